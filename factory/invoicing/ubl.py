"""Peppol BIS Billing 3.0: the UBL 2.1 Invoice / CreditNote of an invoice, Slovak rules included.

Takes an `Invoice` (the same values the PDF and the Factur-X XML are made of) and the Peppol
participant identifiers of seller and buyer; gives the UBL 2.1 XML (``Invoice`` for type code
380, ``CreditNote`` for 381) that the maintained ``factur-x`` library writes from the EN 16931
business terms, with what Peppol BIS Billing 3.0 and the Slovak Peppol Authority add:

- BT-24 specification identifier and BT-23 business process of Peppol BIS Billing 3.0;
- BT-34 / BT-49 electronic addresses (``cbc:EndpointID`` with its EAS ``schemeID``): in
  Slovakia the participant identifier is the DIČ under EAS **0245** (Slovak Peppol Authority
  Specific Requirements, Finančná správa SR), e.g. ``0245:2022749619``;
- BT-7 tax point date (SK CIUS makes it mandatory, § 74(1)(d) of Act 222/2004 on VAT), BT-9
  due date, BT-30 seller legal registration id (IČO), BT-31 seller VAT id (IČ DPH) and BT-48 the
  buyer's VAT id (IČ DPH) when the buyer has one; `slovak_problems` names what is missing;
- BT-10 buyer reference (PEPPOL-EN16931-R003 needs it or an order reference).

The result is checked by `factory.invoicing.validation` (UBL 2.1 XSD and the CEN EN 16931 UBL
Schematron, plus the Peppol BIS rules when registered) before the number is used.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from factory.errors import RenderError
from factory.invoicing.einvoice import Invoice, business_terms

CUSTOMIZATION = "urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0"
PROFILE = "urn:fdc:peppol.eu:2017:poacc:billing:01:1.0"
CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
#: EAS code of the Slovak DIČ (Slovak Peppol Authority: the DIČ identifies a participant)
SK_DIC_SCHEME = "0245"
_PARTICIPANT = re.compile(r"^(?P<scheme>[0-9]{4}):(?P<value>[A-Za-z0-9+._-]{1,128})$")


@dataclass(frozen=True, slots=True)
class ParticipantId:
    """A Peppol participant identifier: EAS scheme and value, ``0245:2022749619``."""

    scheme: str
    value: str

    @classmethod
    def parse(cls, text: str) -> ParticipantId:
        found = _PARTICIPANT.match(text.strip())
        if found is None:
            raise ValueError(f"{text!r} is not a Peppol participant id (SCHEME:VALUE, the"
                             " scheme being a 4-digit EAS code such as 0245 for a Slovak DIČ)")
        return cls(found["scheme"], found["value"])

    @classmethod
    def slovak(cls, dic: str) -> ParticipantId:
        """The participant id of a Slovak DIČ (10 digits), validated with python-stdnum."""
        from stdnum.sk import dph

        compact = re.sub(r"\s", "", dic).upper().removeprefix("SK")
        if not (compact.isdigit() and len(compact) == 10) or not dph.is_valid("SK" + compact):
            raise ValueError(f"{dic!r} is not a valid Slovak DIČ")
        return cls(SK_DIC_SCHEME, compact)

    def __str__(self) -> str:
        return f"{self.scheme}:{self.value}"


def peppol_terms(invoice: Invoice, seller: ParticipantId, buyer: ParticipantId
                 ) -> dict[str, object]:
    """The EN 16931 business terms of ``invoice`` with the Peppol BIS 3.0 additions."""
    terms = business_terms(invoice)
    terms["BT-24"] = CUSTOMIZATION
    terms["BT-23"] = PROFILE
    terms["BT-7"] = invoice.period_end  # the date of taxable supply the PDF prints (SK CIUS)
    terms["BG-4"] = {**terms["BG-4"], "einvoicing_addr": seller.value,
                     "einvoicing_addr_schemeid": seller.scheme}
    terms["BG-7"] = {**terms["BG-7"], "einvoicing_addr": buyer.value,
                     "einvoicing_addr_schemeid": buyer.scheme}
    if not terms.get("BT-10"):
        terms["BT-10"] = invoice.number
    return terms


def slovak_problems(invoice: Invoice, buyer_is_business: bool) -> list[str]:
    """What the Slovak CIUS requires that ``invoice`` lacks (field names as in the job)."""
    problems = []
    seller, buyer = invoice.seller, invoice.buyer
    if not seller.legal_id:
        problems.append("invoice.seller.legal_id: the seller's IČO (BT-30) is required")
    if not seller.vat_id:
        problems.append("invoice.seller.vat_id: the seller's IČ DPH (BT-31) is required")
    for who, party in (("seller", seller), ("buyer", buyer)):
        if not (party.address_line1 and party.city and party.postal_code):
            problems.append(f"{who} address: street, city and postal code are required")
    if buyer_is_business and buyer.country == "SK" and not buyer.vat_id:
        problems.append("buyer_vat_id: a Slovak business buyer's IČ DPH (BT-48) is required")
    return problems


def ubl_xml(invoice: Invoice, seller: ParticipantId, buyer: ParticipantId) -> bytes:
    """The Peppol BIS Billing 3.0 UBL 2.1 Invoice or CreditNote, XSD-checked by factur-x."""
    from facturx import generate_xml

    from factory.invoicing.validation import rule_set, xsd_findings

    terms = peppol_terms(invoice, seller, buyer)
    tax_point = terms.pop("BT-7")
    try:
        xml = bytes(generate_xml(terms, flavor="ubl-2.1", level="en16931",
                                 check_xsd=False, check_schematron=False))
    except Exception as exc:  # the library raises bare Exception/ValueError with a message
        raise RenderError(f"UBL XML of invoice {invoice.number}: {exc}") from None
    xml = _peppol_header(xml, tax_point)  # type: ignore[arg-type]
    problems = xsd_findings(xml, rule_set("ubl"))
    if problems:
        raise RenderError(f"UBL XML of invoice {invoice.number} is not valid against the"
                          f" UBL 2.1 XSD: {problems[0].text}")
    return xml


def _peppol_header(xml: bytes, tax_point: date) -> bytes:
    """Set BT-24 to Peppol BIS 3.0 and put BT-7 where the UBL 2.1 schema of the document has it.

    Hand-written because factur-x 7.8 overwrites BT-24 with its own level's identifier and
    writes ``cbc:TaxPointDate`` in the Invoice's position for a CreditNote too (the CreditNote
    XSD has it right after IssueDate); the result is checked against the XSD after this."""
    from lxml import etree

    root = etree.fromstring(xml)
    customization = root.find(f"{{{CBC}}}CustomizationID")
    if customization is None:
        raise RenderError("UBL without a CustomizationID")
    customization.text = CUSTOMIZATION
    element = etree.Element(f"{{{CBC}}}TaxPointDate")
    element.text = tax_point.isoformat()
    if etree.QName(root).localname == "Invoice":
        # Invoice: ... InvoiceTypeCode, Note*, TaxPointDate, DocumentCurrencyCode
        root.find(f"{{{CBC}}}DocumentCurrencyCode").addprevious(element)
    else:
        anchor = root.find(f"{{{CBC}}}IssueTime")
        (anchor if anchor is not None else root.find(f"{{{CBC}}}IssueDate")
         ).addnext(element)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))
