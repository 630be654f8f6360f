"""The payment block of a document that is not an invoice: a statement with an amount due.

Takes a job with a ``[payment]`` table (payee, IBAN, BIC, which record field is the amount due
and which gives the variable symbol); gives `PaymentPlugin`, the job's document-type plugin
(`factory.pipeline.plugins`): unnumbered, it adds ``record.payment`` for the templates when
the record's amount due is above zero: the amount, the due date, the bank details, the
variable symbol and the payment QR code of the currency (`factory.invoicing.payment_qr`: QR
Platba for CZK, PAY by square for EUR, drawn by segno), the same code an invoice prints.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from markupsafe import Markup

from factory.errors import ConfigError, RenderError
from factory.invoicing.identifiers import bic_problem, iban_problem
from factory.invoicing.payment_qr import payment_qr
from factory.invoicing.totals import money
from factory.jobs.invoice import PaymentSpec
from factory.jobs.spec import JobSpec
from factory.models import Artifact, Period, Record


def check_job(job: JobSpec) -> PaymentSpec:
    """The job's ``[payment]`` table, after checking its fields exist and its ids by checksum."""
    spec = job.payment
    if spec is None:
        raise ConfigError(f"{job.label}: no [payment] table")
    problems = [f"payment.{name}: the record schema has no field {getattr(spec, name)!r}"
                for name in ("amount_field", "reference_field")
                if getattr(spec, name) not in job.record_schema.fields]
    if "currency" not in job.record_schema.fields:
        problems.append("payment: the record schema needs a 'currency' field")
    problems += [f"payment.{where}: {problem}" for where, problem in (
        ("iban", iban_problem(spec.iban)),
        ("bic", bic_problem(spec.bic, spec.iban) if spec.bic else None)) if problem]
    if problems:
        raise ConfigError(f"{job.label}: invalid [payment]", problems)
    return spec


class PaymentPlugin:
    """``record.payment`` (bank details and QR code) for records with an amount due."""

    def __init__(self, job: JobSpec, period: Period, issued: date) -> None:
        self.job = job
        self.spec = check_job(job)
        self.period = period
        self.issued = issued

    def series(self, record: Record) -> str | None:
        return None  # statements are not numbered

    def enrich(self, typed: Mapping[str, Any], record: Record, number: int | None
               ) -> dict[str, Any]:
        spec = self.spec
        raw = typed.get(spec.amount_field)
        try:
            amount = money(Decimal(str(raw))) if raw not in (None, "") else Decimal(0)
        except InvalidOperation:
            raise RenderError(f"record {record.key}: {spec.amount_field}: {raw!r} is not an"
                              " amount") from None
        if amount <= 0:
            return {**typed, "payment": None}
        currency = str(typed["currency"])
        due = self.issued + timedelta(days=spec.payment_days)
        symbol = re.sub(r"\D", "", str(typed.get(spec.reference_field) or ""))[-10:] or None
        qr = payment_qr(iban=spec.iban, bic=spec.bic, amount=amount, currency=currency,
                        due=due, variable_symbol=symbol, payee=spec.payee)
        payment = {
            "amount": amount, "currency": currency, "due": due, "payee": spec.payee,
            "iban": spec.iban, "bic": spec.bic, "variable_symbol": symbol,
            "qr": None if qr is None else {"kind": qr.kind, "payload": qr.payload,
                                           "svg": Markup(qr.svg)},  # noqa: S704 (segno's SVG)
        }
        return {**typed, "payment": payment}

    def finish(self, artifact: Artifact, typed: Mapping[str, Any]) -> Artifact:
        return artifact

    def snapshot(self, typed: Mapping[str, Any]) -> dict[str, Any]:
        payment = typed.get("payment")
        if not payment:
            return {}
        return {"payment": {"amount": str(payment["amount"]), "currency": payment["currency"],
                            "due": payment["due"].isoformat(),
                            "variable_symbol": payment["variable_symbol"],
                            "qr": payment["qr"]["kind"] if payment["qr"] else None}}
