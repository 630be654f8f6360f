"""Peppol BIS Billing 3.0 UBL: Invoice and CreditNote with the Slovak requirements, checked
against the UBL 2.1 XSD and the official CEN EN 16931 UBL Schematron (Saxon-HE)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from lxml import etree

from factory.invoicing.einvoice import Invoice, InvoiceLine, Party
from factory.invoicing.totals import Line, compute_totals
from factory.invoicing.ubl import CUSTOMIZATION, ParticipantId, slovak_problems, ubl_xml
from factory.invoicing.validation import EInvoiceRejected, check_xml, validate_xml

NS = {"cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
      "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"}
SELLER = Party("Tatra Služby s.r.o.", "Hlavná 1", "811 01", "Bratislava", "SK",
               vat_id="SK2022749619", legal_id="35763469")
BUYER = Party("Firma s.r.o.", "Mlynská 2", "040 01", "Košice", "SK", vat_id="SK2020317068")


def slovak_invoice(type_code: str = "380", price: str = "12.3456", buyer: Party = BUYER
                   ) -> Invoice:
    lines = [Line(Decimal(2), Decimal(price), "S", Decimal(23))]
    totals = compute_totals(lines, "EUR")
    return Invoice(
        "FV2027000001" if type_code == "380" else "DB2027000001", type_code,
        date(2027, 1, 31), date(2027, 2, 14), date(2027, 1, 1), date(2027, 1, 31),
        SELLER, buyer, "SK3112000000198742637541",
        [InvoiceLine("Consulting", Decimal(2), "HUR", Decimal(price), Decimal(1), "S",
                     Decimal(23), totals.line_amounts[0])], totals,
        buyer_reference="C000042",
        preceding=[("FV2027000000", date(2027, 1, 2))] if type_code == "381" else [])


@pytest.mark.parametrize(("type_code", "root"), [("380", "Invoice"), ("381", "CreditNote")])
def test_peppol_ubl_passes_the_official_rules(type_code: str, root: str) -> None:
    xml = ubl_xml(slovak_invoice(type_code), ParticipantId.slovak("2022749619"),
                  ParticipantId.slovak("SK2020317068"))
    assert [f for f in validate_xml(xml, "ubl") if f.fatal] == []
    tree = etree.fromstring(xml)
    assert etree.QName(tree).localname == root
    assert tree.findtext("cbc:CustomizationID", namespaces=NS) == CUSTOMIZATION
    assert tree.findtext("cbc:TaxPointDate", namespaces=NS) == "2027-01-31"
    endpoints = tree.xpath("//cac:Party/cbc:EndpointID", namespaces=NS)
    assert [(e.get("schemeID"), e.text) for e in endpoints] == \
        [("0245", "2022749619"), ("0245", "2020317068")]
    assert tree.xpath("//cac:Price/cbc:PriceAmount/text()", namespaces=NS) == ["12.3456"]


@pytest.mark.fast
def test_a_broken_ubl_is_refused_with_the_rule() -> None:
    xml = ubl_xml(slovak_invoice(), ParticipantId.slovak("2022749619"),
                  ParticipantId.slovak("SK2020317068"))
    broken = xml.replace(b"<cbc:PayableAmount currencyID=\"EUR\">30.37<",
                         b"<cbc:PayableAmount currencyID=\"EUR\">31.37<")
    assert broken != xml
    with pytest.raises(EInvoiceRejected) as caught:
        check_xml(broken, "ubl", "test")
    assert "BR-CO-16" in caught.value.rules


@pytest.mark.fast
def test_participant_ids() -> None:
    assert str(ParticipantId.slovak("SK 2022749619")) == "0245:2022749619"
    assert ParticipantId.parse("0245:2022749619") == ParticipantId("0245", "2022749619")
    with pytest.raises(ValueError, match="not a valid Slovak DIČ"):
        ParticipantId.slovak("2022749618")  # checksum
    with pytest.raises(ValueError, match="participant id"):
        ParticipantId.parse("2022749619")


@pytest.mark.fast
def test_slovak_requirements_name_what_is_missing() -> None:
    assert slovak_problems(slovak_invoice(), buyer_is_business=True) == []
    no_vat = Party("Firma s.r.o.", "Mlynská 2", "040 01", "Košice", "SK")
    assert slovak_problems(slovak_invoice(buyer=no_vat), buyer_is_business=True) == [
        "buyer_vat_id: a Slovak business buyer's IČ DPH (BT-48) is required"]
