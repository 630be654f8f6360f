"""Factur-X / ZUGFeRD: the EN 16931 XML of an invoice, embedded in its PDF/A-3.

Takes an `Invoice` (the enriched record: parties, lines, `Totals`, number and dates); gives the
CII XML (profile EN 16931, checked against the official XSD shipped with the `factur-x`
library) and, from a PDF/A-3 rendered by WeasyPrint, the same PDF with ``factur-x.xml``
attached (AFRelationship /Data) and the Factur-X XMP extension schema in its metadata. Both
steps are the maintained `factur-x` library's; this module only maps our values onto the
EN 16931 business terms (BT-n) it expects. Errors become `RenderError`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from factory.errors import RenderError
from factory.invoicing.totals import Totals

PROFILE = "en16931"

# The library logs a warning for every optional term it drops; keep batch output clean.
logging.getLogger("factur-x").setLevel(logging.ERROR)


@dataclass(frozen=True)
class Party:
    name: str
    address_line1: str
    postal_code: str
    city: str
    country: str
    address_line2: str | None = None
    vat_id: str | None = None
    legal_id: str | None = None
    email: str | None = None

    def as_bt(self) -> dict[str, Any]:
        party: dict[str, Any] = {"name": self.name, "addr_l1": self.address_line1,
                                 "postcode": self.postal_code, "city": self.city,
                                 "country_code": self.country}
        if self.address_line2:
            party["addr_l2"] = self.address_line2
        if self.vat_id:
            party["vat_identifier"] = self.vat_id
        if self.legal_id:
            party["legal_identifier"] = self.legal_id
        if self.email:
            party["contacts"] = [{"email": self.email}]
        return party


@dataclass(frozen=True)
class InvoiceLine:
    description: str
    quantity: Decimal
    unit: str
    unit_price: Decimal
    base_quantity: Decimal
    vat_category: str
    vat_rate: Decimal
    net_amount: Decimal


@dataclass(frozen=True)
class Invoice:
    """What the XML states; built by `factory.invoicing.plugin` from a record."""

    number: str
    type_code: str
    issued: date
    due: date
    period_start: date
    period_end: date
    seller: Party
    buyer: Party
    iban: str
    lines: Sequence[InvoiceLine]
    totals: Totals
    buyer_reference: str | None = None
    preceding: Sequence[tuple[str, date | None]] = field(default_factory=tuple)
    #: BG-13 deliver to (name, address, country BT-80): required for intra-community supply
    #: (BR-IC-12)
    deliver_to: Party | None = None
    #: BT-83: the variable symbol the page prints and the payment QR code carries
    payment_reference: str | None = None
    #: BG-1 invoice notes (BT-22): a credit note's reason for correction
    notes: Sequence[str] = field(default_factory=tuple)
    #: the seller's BIC (ISDOC states it with the IBAN)
    bic: str | None = None


def _amount(value: Decimal) -> str:
    return f"{value:.2f}"


def _plain(value: Decimal) -> str:
    return format(value.normalize(), "f")


def business_terms(invoice: Invoice) -> dict[str, Any]:
    """The invoice as the `factur-x` library's dictionary of EN 16931 business terms."""
    totals = invoice.totals
    terms: dict[str, Any] = {
        "BT-1": invoice.number,
        "BT-2": invoice.issued,
        "BT-3": invoice.type_code,
        "BT-5": totals.currency,
        "BT-9": invoice.due,
        "BT-72": invoice.period_end,
        "BT-73": invoice.period_start,
        "BT-74": invoice.period_end,
        "BG-4": invoice.seller.as_bt(),
        "BG-7": invoice.buyer.as_bt(),
        "BT-81": "58",
        "BT-83": invoice.payment_reference or invoice.number,
        "BT-84": invoice.iban,
        "BG-23": [
            {"BT-116": _amount(g.taxable), "BT-117": _amount(g.tax), "BT-118": g.category,
             "BT-119": _plain(g.rate),
             **({"BT-120": g.exemption_reason} if g.exemption_reason else {})}
            for g in totals.breakdown
        ],
        "BT-106": _amount(totals.line_total),
        "BT-109": _amount(totals.tax_basis),
        "BT-110": _amount(totals.vat_total),
        "BT-112": _amount(totals.grand_total),
        "BT-115": _amount(totals.due),
        "BG-25": [
            {"BT-126": str(number), "BT-129": _plain(line.quantity), "BT-130": line.unit,
             "BT-131": _amount(line.net_amount), "BT-146": _plain(line.unit_price),
             **({"BT-149": _plain(line.base_quantity)} if line.base_quantity != 1 else {}),
             "BT-151": line.vat_category, "BT-152": _plain(line.vat_rate),
             "BT-153": line.description}
            for number, line in enumerate(invoice.lines, 1)
        ],
    }
    if totals.paid:
        terms["BT-113"] = _amount(totals.paid)
    if totals.accounting_currency:
        terms["BT-6"] = totals.accounting_currency
        terms["BT-111"] = _amount(totals.vat_total_accounting or Decimal(0))
    if invoice.buyer_reference:
        terms["BT-10"] = invoice.buyer_reference
    if invoice.deliver_to is not None:
        terms["BG-13"] = {key: value for key, value in invoice.deliver_to.as_bt().items()
                          if key not in ("vat_identifier", "legal_identifier", "contacts")}
    if invoice.notes:
        terms["BG-1"] = [{"BT-22": note} for note in invoice.notes]
    if invoice.preceding:
        terms["BG-3"] = [{"BT-25": ref, **({"BT-26": day} if day else {})}
                         for ref, day in invoice.preceding]
    return terms


def invoice_xml(invoice: Invoice) -> bytes:
    """The Factur-X XML (CII, EN 16931 profile), checked against the official XSD (its
    business rules are checked by `factory.invoicing.validation`)."""
    from facturx import generate_xml

    try:
        return bytes(generate_xml(business_terms(invoice), flavor="factur-x", level=PROFILE,
                                  check_xsd=True, check_schematron=False))
    except Exception as exc:  # the library raises bare Exception/ValueError with a message
        raise RenderError(f"Factur-X XML of invoice {invoice.number}: {exc}") from None


def embed_xml(pdf: bytes, xml: bytes, metadata: Mapping[str, str],
              others: Mapping[str, tuple[bytes, str]] | None = None) -> bytes:
    """The PDF/A-3 ``pdf`` with ``xml`` attached as Factur-X (EN 16931) and its XMP; ``others``
    (file name: (bytes, description)) are attached beside it (AFRelationship /Supplement, the
    only relationship the library gives additional files: the same invoice in another syntax,
    such as ISDOC)."""
    from facturx import generate_from_binary

    attachments = {name: {"filedata": data, "description": description,
                          "afrelationship": "supplement"}
                   for name, (data, description) in (others or {}).items()}
    try:
        return bytes(generate_from_binary(
            pdf, xml, flavor="factur-x", level=PROFILE, check_xsd=False,
            pdf_metadata=dict(metadata), afrelationship="data",
            attachments=attachments or None))
    except Exception as exc:
        raise RenderError(f"embedding the Factur-X XML: {exc}") from None


def check_xml(xml: bytes) -> None:
    """Validate Factur-X XML against the EN 16931 XSD; raise `RenderError` if it is not."""
    from facturx import xml_check_xsd

    try:
        xml_check_xsd(xml, flavor="factur-x", level=PROFILE)
    except Exception as exc:
        raise RenderError(f"Factur-X XML is not valid: {exc}") from None


def xml_from_pdf(pdf: bytes) -> tuple[str, bytes]:
    """The name and bytes of the Factur-X XML embedded in ``pdf``."""
    from facturx import get_xml_from_pdf

    name, xml = get_xml_from_pdf(pdf, check_xsd=False)
    if not xml:
        raise RenderError("no Factur-X XML embedded in this PDF")
    return str(name), bytes(xml)
