"""Document-type plugins: per-record computed values and post-processing around rendering.

Takes a job, the period and the issue date; gives the job's `DocumentPlugin` or None. A plugin
is how a document type adds what the record does not carry (an invoice's number and totals)
without special cases in the worker:

    series(record)                 -> the gapless numbering series, or None (unnumbered)
    enrich(typed, record, number)  -> the typed record plus computed values, for templates
    finish(artifact, typed)        -> the rendered artifact, post-processed (XML embedded)
    snapshot(typed)                -> computed values kept in the record snapshot
    check(typed)                   -> (optional) the official checks of what finish would
                                      produce, without rendering (`docfactory validate`)

A job with an ``[invoice]`` table gets `InvoicePlugin`; one with a ``[payment]`` table (a
statement that may show an amount due) gets `PaymentPlugin` (bank details, payment QR code).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any, Protocol

from factory.jobs import JobSpec
from factory.models import Artifact, Period, Record


class DocumentPlugin(Protocol):
    def series(self, record: Record) -> str | None: ...

    def enrich(self, typed: Mapping[str, Any], record: Record, number: int | None
               ) -> dict[str, Any]: ...

    def finish(self, artifact: Artifact, typed: Mapping[str, Any]) -> Artifact: ...

    def snapshot(self, typed: Mapping[str, Any]) -> dict[str, Any]: ...


def plugin_for(job: JobSpec, period: Period, issued: date) -> DocumentPlugin | None:
    if job.invoice is not None:
        from factory.invoicing.plugin import InvoicePlugin

        return InvoicePlugin(job, period, issued)
    if job.payment is not None:  # a statement with an amount due: bank details and QR code
        from factory.invoicing.statement_payment import PaymentPlugin

        return PaymentPlugin(job, period, issued)
    return None
