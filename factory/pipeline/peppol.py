"""The ``peppol`` channel of one invoice: its UBL archived as its own document, then sent.

Takes the worker's document renderer and store, the record, its route and the archived PDF's
index row; gives the `Send` that `factory.pipeline.delivery.Deliverer` carries out like an
email: the UBL (Peppol BIS Billing 3.0, the legal invoice in Slovakia) is stored and indexed
under the ``peppol`` slot of the record with the invoice's retention, "sending" is recorded,
the access point is called with the channel's idempotency key, and the receipt (the access
point's message id) goes to the ``deliveries`` table.

The UBL carries the number the PDF was archived with: it is read from the PDF's record
snapshot (``computed.sequence``), so the two documents of one invoice never disagree. The UBL
was already built and validated once, before that number was used (`InvoicePlugin.finish`);
here it is built again from the same values, byte for byte the same document.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from factory.archive import delivery_key
from factory.deliver import Transport, TransportOptions, open_transport
from factory.errors import ConfigError, DeliveryError, RenderError
from factory.jobs import JobSpec
from factory.models import ArchiveEntry, Artifact, Channel, Message, Record, Route
from factory.pipeline.config import WorkerConfig
from factory.pipeline.delivery import Send
from factory.templates import DocumentMeta

MEDIA_TYPE = "application/xml"


def peppol_transport(config: WorkerConfig, job: JobSpec) -> Transport:
    """The access point's transport: ``FACTORY_PEPPOL_URL`` (resolved into ``config``, it may
    hold the token), else the job's ``[peppol] transport``, with the job's timeouts."""
    if job.peppol is None or not config.peppol_url:
        raise ConfigError("no peppol transport configured ([peppol] transport)")
    return open_transport(config.peppol_url, TransportOptions(
        channel=Channel.PEPPOL, gateway=job.peppol.model_dump(
            include={"timeout_seconds", "poll_seconds", "poll_interval_seconds"})))


def peppol_send(worker: Any, record: Record, route: Route, pdf_entry: ArchiveEntry,
                holder: str | None, snapshot: Callable[[str, datetime], Artifact]) -> Send:
    """The `Send` of ``record``'s Peppol invoice (see the module docstring); ``worker`` is the
    `Worker` (its job, period, document renderer, store and index-row builder)."""
    job, documents, store = worker.job, worker.documents, worker.store
    if route.peppol is None or job.peppol is None:
        raise DeliveryError("no Peppol participant id")
    key = delivery_key(job.name, worker.period.code, record.key, job.document_type,
                       Channel.PEPPOL)
    sender = job.peppol.sender_id

    def entry(doc_id: str, artifact: Artifact, storage_key: str, snapshot_key: str,
              created: datetime) -> ArchiveEntry:
        return worker._entry(record, Channel.PEPPOL, doc_id, artifact, storage_key,
                             snapshot_key, created, 1)

    plugin = getattr(documents, "plugin", None)
    if plugin is None or not hasattr(plugin, "peppol_xml"):
        raise RenderError("the peppol channel needs an invoice job")
    recipient = route.peppol

    def render(_meta: DocumentMeta) -> tuple[Artifact, Message]:
        computed = json.loads(store.get(pdf_entry.record_storage_key)).get("computed") or {}
        number = computed.get("sequence")
        if number is None:
            raise RenderError(f"the archived invoice {pdf_entry.document_id} has no number")
        xml = plugin.peppol_xml(documents.typed(record, int(number)))
        if xml is None:
            raise DeliveryError("not a Peppol invoice")
        return (Artifact.of(Channel.PEPPOL, MEDIA_TYPE, "xml", xml),
                Message(Channel.PEPPOL, key, recipient, sender, xml,
                        {"invoice_number": computed.get("number")}))

    return Send(record=record, channel=Channel.PEPPOL, recipient=recipient, render=render,
                snapshot=snapshot, entry=entry, meta=documents.meta, holder=holder)
