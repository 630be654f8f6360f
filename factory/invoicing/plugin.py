"""The invoice document type: computed values into the record, Factur-X into the PDF.

Takes a job with an ``[invoice]`` table, the run's period and issue date; gives
`InvoicePlugin`, which the pipeline calls around rendering:

- ``series(record)``: the numbering series of the record (invoices and credit notes may have
  their own); the pipeline then assigns the next gapless number of that series inside the
  transaction that archives the document (see `factory.archive.index`);
- ``enrich(typed, record, number)``: adds ``record.invoice`` for the templates: the formatted
  number, dates, seller, lines with their net amounts and the EN 16931 `Totals`;
- ``finish(artifact, typed)``: builds the Factur-X XML, validates it against the XSD and
  embeds it in the rendered PDF/A-3;
- ``snapshot(typed)``: the computed values kept in the record snapshot beside the document.

Record fields it expects are listed in `RECORD_FIELDS` / `LINE_FIELDS`; `check_job` refuses a
job whose schema lacks one. Data it cannot invoice (a line EN 16931 does not allow) raises
`RenderError` naming the line and field; no number is used up by it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Protocol

from markupsafe import Markup

from factory.errors import ConfigError, RenderError
from factory.invoicing import isdoc
from factory.invoicing.einvoice import Invoice, InvoiceLine, Party, embed_xml, invoice_xml
from factory.invoicing.identifiers import (
    bic_problem,
    company_id_problem,
    iban_problem,
    slovak_tax_id_problem,
    vat_id_problem,
)
from factory.invoicing.payment_qr import payment_qr
from factory.invoicing.totals import (
    CREDIT_NOTE,
    DELIVERY_REQUIRED,
    REASON_REQUIRED,
    TotalsError,
    compute_totals,
    lines_from,
)
from factory.invoicing.ubl import ParticipantId, slovak_problems, ubl_xml
from factory.invoicing.units import quantity_text
from factory.invoicing.validation import check_xml
from factory.jobs.invoice import InvoiceSpec
from factory.jobs.spec import JobSpec
from factory.models import Artifact, Period, Record

RECORD_FIELDS = ("type_code", "currency", "name", "address_line1", "postal_code", "city",
                 "country")
LINE_FIELDS = ("description", "quantity", "unit", "unit_price", "vat_category", "vat_rate")
DRAFT = "DRAFT"


def check_job(job: JobSpec) -> InvoiceSpec:
    """The job's ``[invoice]`` table, after checking its schema has what invoices need."""
    if job.invoice is None:
        raise ConfigError(f"{job.label}: the invoice document type needs an [invoice] table")
    schema = job.record_schema
    problems = [f"schema.fields.{name}: required by [invoice], missing"
                for name in RECORD_FIELDS if name not in schema.fields]
    if schema.items is None:
        problems.append("schema.items: invoices need line items ([schema.items])")
    else:
        problems += [f"schema.items.fields.{name}: required by [invoice], missing"
                     for name in LINE_FIELDS if name not in schema.items.fields]
    if "invoice" in schema.fields:
        problems.append("schema.fields.invoice: the name is reserved for the computed invoice")
    seller = job.invoice.seller
    checks = [("invoice.seller.vat_id", vat_id_problem(seller.vat_id)),
              ("invoice.seller.iban", iban_problem(seller.iban))]
    if seller.legal_id:
        checks.append(("invoice.seller.legal_id",
                       company_id_problem(seller.legal_id, seller.country)))
    if seller.bic:
        checks.append(("invoice.seller.bic", bic_problem(seller.bic, seller.iban)))
    problems += [f"{where}: {problem}" for where, problem in checks if problem]
    if problems:
        raise ConfigError(f"{job.label}: invalid invoice job", problems)
    if job.invoice.isdoc:
        isdoc.register_rules()  # a job error now when the official XSD is not installed
    return job.invoice


def format_number(spec: InvoiceSpec, series: str, number: int, issued: date) -> str:
    return spec.number_format.format(series=series, number=number, year=issued.year)


class IssuedInvoice(Protocol):
    """An issued number as the archive reads it back (`factory.archive.invoices`)."""

    series: str
    customer_id: str


class InvoicePlugin:
    """Numbering, totals and Factur-X for the records of an invoice job."""

    def __init__(self, job: JobSpec, period: Period, issued: date) -> None:
        self.job = job
        self.spec = check_job(job)
        self.period = period
        self.issued = issued
        self.items_field = job.record_schema.items.field if job.record_schema.items else "lines"
        #: reads an issued invoice number back from the index (`bind_archive`); without it
        #: (previews, `docfactory validate`) a credit note's invoice is not looked up
        self.find_invoice: Callable[[str], Sequence[IssuedInvoice]] | None = None

        self._corrected: dict[str, str | None] = {}

    def bind_archive(self, find_invoice: Callable[[str], Sequence[IssuedInvoice]]) -> None:
        """Give the plugin the index lookup of issued numbers (the worker does, once)."""
        self.find_invoice = find_invoice

    def before_number(self, record: Record) -> None:
        """What must be read from the index before the numbering transaction opens (on SQLite
        that transaction holds the database's write lock): the invoice a credit note corrects.
        The answer is kept for `enrich`, which refuses the record inside the transaction."""
        if str(record.data.get("type_code")) != CREDIT_NOTE or self.find_invoice is None:
            return
        number = str(record.data.get("preceding_invoice") or "").strip()
        customer = str(record.data.get(self.job.customer_field) or record.customer_id)
        self._corrected[record.key] = self._corrected_invoice_problem(number, customer) \
            if number else None

    # -- numbering -------------------------------------------------------------------------

    def series(self, record: Record) -> str:
        pattern = self.spec.series
        if str(record.data.get("type_code")) == CREDIT_NOTE and self.spec.credit_note_series:
            pattern = self.spec.credit_note_series
        return pattern.format(year=self.issued.year, month=self.issued.month)

    # -- enrichment ------------------------------------------------------------------------

    def enrich(self, typed: Mapping[str, Any], record: Record, number: int | None
               ) -> dict[str, Any]:
        """``typed`` plus ``invoice``: number, dates, seller, lines and totals."""
        currency = str(typed["currency"])
        self._check_buyer_ids(typed, record)
        if str(typed["type_code"]) == CREDIT_NOTE:
            for field, what in (("preceding_invoice", "the invoice it corrects (BG-3)"),
                                ("correction_reason", "its reason for correction")):
                if not str(typed.get(field) or "").strip():
                    raise RenderError(f"cannot invoice record {record.key}: {field}: a credit"
                                      f" note states {what}")
            if record.key not in self._corrected:
                self.before_number(record)
            problem = self._corrected.pop(record.key, None)
            if problem:
                raise RenderError(f"cannot invoice record {record.key}: preceding_invoice:"
                                  f" {problem}")
        items = list(typed.get(self.items_field) or [])
        reason = typed.get("vat_exemption_reason")
        try:
            parsed = lines_from(items)
            totals = compute_totals(
                parsed, currency, paid=_decimal(typed.get("paid_amount")),
                accounting_currency=self.spec.accounting_currency,
                exchange_rate=_optional_decimal(typed.get("exchange_rate")),
                exemption_reasons=dict.fromkeys(REASON_REQUIRED, str(reason))
                if reason else None)
        except TotalsError as exc:
            where = f"{self.items_field}.{exc.field}" if exc.field and exc.field in LINE_FIELDS \
                else exc.field
            raise RenderError(f"cannot invoice record {record.key}: {where}: {exc}") from None
        series = self.series(record)
        formatted = DRAFT if number is None else format_number(self.spec, series, number,
                                                               self.issued)
        lines = [{**item, "net_amount": amount, "parsed": line,  # parsed: for the e-invoice
                  "quantity_text": quantity_text(line.quantity, str(item["unit"]),
                                                 record.locale)}
                 for item, line, amount in zip(items, parsed, totals.line_amounts, strict=True)]
        seller = self.spec.seller
        due = self.issued + timedelta(days=self.spec.payment_days)
        reference = re.sub(r"\D", "", formatted)[-10:] or None  # the variable symbol
        credit = str(typed["type_code"]) == CREDIT_NOTE
        qr = None if credit else payment_qr(
            iban=seller.iban, bic=seller.bic, amount=totals.due, currency=currency, due=due,
            variable_symbol=reference, payee=seller.name)
        invoice = {
            "number": formatted,
            "sequence": number,
            "series": series,
            "type_code": str(typed["type_code"]),
            "credit_note": credit,
            "issued": self.issued,
            "due": due,
            "period_start": self.period.start,
            "period_end": self.period.end,
            "seller": seller.model_dump(),
            "lines": lines,
            "totals": totals,
            "payment_reference": reference or formatted,
            "variable_symbol": reference,
            "payment_qr": None if qr is None else {"kind": qr.kind, "payload": qr.payload,
                                                   "svg": Markup(qr.svg)},  # noqa: S704
        }
        return {**typed, "invoice": invoice}

    def _corrected_invoice_problem(self, number: str, customer: str) -> str | None:
        """Why ``number`` is not an invoice this customer's credit note may correct: it must
        be issued (in the index) to the same customer, and be an invoice, not a credit note."""
        if self.find_invoice is None:
            return None
        found = list(self.find_invoice(number))
        if not found:
            return f"{number} is not an issued invoice (no such number in the archive)"
        credit = self.spec.credit_note_series
        if credit and credit != self.spec.series:
            pattern = re.escape(credit).replace(r"\{year\}", r"\d{4}") \
                .replace(r"\{month\}", r"\d{2}")
            found = [f for f in found if not re.fullmatch(pattern, f.series)]
            if not found:
                return f"{number} is a credit note, not an invoice"
        if not any(f.customer_id == customer for f in found):
            return (f"{number} was issued to another customer ({found[0].customer_id}),"
                    f" not to {customer}")
        return None

    @staticmethod
    def _check_buyer_ids(typed: Mapping[str, Any], record: Record) -> None:
        """The buyer's VAT id, IČO and Slovak DIČ, by checksum; a bad one uses no number."""
        country = str(typed.get("country") or "")
        checks = []
        if typed.get("buyer_vat_id"):
            checks.append(("buyer_vat_id", vat_id_problem(str(typed["buyer_vat_id"]))))
        if typed.get("buyer_legal_id"):
            checks.append(("buyer_legal_id",
                           company_id_problem(str(typed["buyer_legal_id"]), country)))
        if typed.get("buyer_tax_id") and country == "SK":
            checks.append(("buyer_tax_id", slovak_tax_id_problem(str(typed["buyer_tax_id"]))))
        for field, problem in checks:
            if problem:
                raise RenderError(f"cannot invoice record {record.key}: {field}: {problem}")

    def snapshot(self, typed: Mapping[str, Any]) -> dict[str, Any]:
        invoice = typed["invoice"]
        return {"number": invoice["number"], "series": invoice["series"],
                "sequence": invoice["sequence"], "type_code": invoice["type_code"],
                "due": invoice["due"].isoformat(), "totals": invoice["totals"].as_json()}

    # -- the e-invoice ---------------------------------------------------------------------

    def invoice(self, typed: Mapping[str, Any]) -> Invoice:
        data = typed["invoice"]
        seller = self.spec.seller
        buyer = Party(str(typed["name"]), str(typed["address_line1"]),
                      str(typed["postal_code"]), str(typed["city"]), str(typed["country"]),
                      address_line2=typed.get("address_line2") or None,
                      vat_id=typed.get("buyer_vat_id") or None,
                      legal_id=typed.get("buyer_legal_id") or None)
        preceding = []
        if typed.get("preceding_invoice"):
            preceding.append((str(typed["preceding_invoice"]),
                              typed.get("preceding_invoice_date")))
        return Invoice(
            number=data["number"], type_code=data["type_code"], issued=data["issued"],
            due=data["due"], period_start=data["period_start"], period_end=data["period_end"],
            seller=Party(seller.name, seller.address_line1, seller.postal_code, seller.city,
                         seller.country, vat_id=seller.vat_id, legal_id=seller.legal_id,
                         email=seller.email),
            buyer=buyer,
            iban=seller.iban,
            lines=[InvoiceLine(str(line["description"]), line["parsed"].quantity,
                               str(line["unit"]), line["parsed"].unit_price,
                               line["parsed"].base_quantity, line["parsed"].vat_category,
                               line["parsed"].vat_rate, line["net_amount"])
                   for line in data["lines"]],
            totals=data["totals"],
            buyer_reference=str(typed.get(self.job.customer_field) or "") or None,
            preceding=preceding, deliver_to=_deliver_to(typed, buyer, data["lines"]),
            payment_reference=data["variable_symbol"], bic=seller.bic,
            notes=[str(typed["correction_reason"])] if typed.get("correction_reason") else [])

    def check(self, typed: Mapping[str, Any]) -> None:
        """The e-invoice of ``typed`` against the official rules (`docfactory validate`)."""
        check_xml(invoice_xml(self.invoice(typed)), "cii", self._label(typed))
        self.peppol_xml(typed)  # and the Peppol UBL of a record that goes over Peppol
        if self.spec.isdoc:
            self.isdoc_xml(typed)

    def peppol_ids(self, typed: Mapping[str, Any]) -> tuple[ParticipantId, ParticipantId] | None:
        """(seller, buyer) Peppol participant ids when this record goes over Peppol."""
        peppol = self.job.peppol
        if peppol is None or "peppol" not in self.job.channels:
            return None
        value = str(typed.get(peppol.participant_field) or "").strip()
        if not value:
            return None
        try:
            return ParticipantId.parse(peppol.sender_id), ParticipantId.parse(value)
        except ValueError as exc:
            raise RenderError(f"record {typed[self.job.key_field]}:"
                              f" {peppol.participant_field}: {exc}") from None

    def peppol_xml(self, typed: Mapping[str, Any]) -> bytes | None:
        """The Peppol BIS 3.0 UBL of ``typed`` (None when it does not go over Peppol), checked
        against the Slovak requirements, the UBL XSD and the official rules."""
        ids = self.peppol_ids(typed)
        if ids is None:
            return None
        invoice = self.invoice(typed)
        label = f"the Peppol UBL of record {typed[self.job.key_field]}"
        if invoice.seller.country == "SK":
            problems = slovak_problems(invoice, buyer_is_business=True)
            if problems:
                raise RenderError(f"{label}: Slovak requirements not met: "
                                  + "; ".join(problems))
        xml = ubl_xml(invoice, *ids)
        if self.spec.validation == "official":
            check_xml(xml, "ubl", label)
        return xml

    def isdoc_xml(self, typed: Mapping[str, Any], invoice: Invoice | None = None) -> bytes:
        """The ISDOC 6.0.2 XML of ``typed``, checked against the official ISDOC XSD (always,
        whatever ``validation`` says: ISDOC publishes no Schematron, the XSD is the check)."""
        invoice = invoice or self.invoice(typed)
        isdoc.register_rules()
        xml = isdoc.isdoc_xml(invoice, self.spec.accounting_currency)
        check_xml(xml, "isdoc", f"the ISDOC XML of record {typed[self.job.key_field]}")
        return xml

    def _label(self, typed: Mapping[str, Any]) -> str:
        """How a rejection names the document: by record, since its number is not used."""
        return f"the Factur-X XML of record {typed[self.job.key_field]}"

    def finish(self, artifact: Artifact, typed: Mapping[str, Any]) -> Artifact:
        """The rendered PDF/A-3 with its Factur-X XML embedded."""
        invoice = self.invoice(typed)
        xml = invoice_xml(invoice)
        if self.spec.validation == "official":
            check_xml(xml, "cii", self._label(typed))
        self.peppol_xml(typed)  # a Peppol invoice is refused before its number, like the CII
        others = {}
        if self.spec.isdoc:
            others[isdoc.filename(invoice)] = (self.isdoc_xml(typed, invoice),
                                               f"ISDOC {isdoc.VERSION} {invoice.number}")
        kind = "Credit note" if invoice.type_code == CREDIT_NOTE else "Invoice"
        pdf = embed_xml(artifact.data, xml, {
            "author": invoice.seller.name,
            "keywords": "Factur-X, EN 16931, " + kind.lower(),
            "title": f"{invoice.seller.name}: {kind} {invoice.number}",
            "subject": f"Factur-X {kind.lower()} {invoice.number} dated {invoice.issued}"
                       f" issued by {invoice.seller.name}",
        }, others)
        return Artifact.of(artifact.channel, artifact.media_type, artifact.extension, pdf,
                           page_count=artifact.page_count)


def _deliver_to(typed: Mapping[str, Any], buyer: Party, lines: list[dict[str, Any]]
                ) -> Party | None:
    """BG-13: where the goods or services went. Given for an intra-community supply
    (BR-IC-12 needs its country, BT-80): ``deliver_to_country`` when the record names one (the
    buyer's name and that country), else the buyer's postal address."""
    country = typed.get("deliver_to_country") or None
    needed = any(line["parsed"].vat_category in DELIVERY_REQUIRED for line in lines)
    if not needed and country is None:
        return None
    if country is None or country == buyer.country:
        return Party(buyer.name, buyer.address_line1, buyer.postal_code, buyer.city,
                     buyer.country, address_line2=buyer.address_line2)
    return Party(buyer.name, "", "", "", str(country))


def _decimal(value: Any) -> Decimal:
    return Decimal(str(value)) if value not in (None, "") else Decimal(0)


def _optional_decimal(value: Any) -> Decimal | None:
    return Decimal(str(value)) if value not in (None, "") else None
