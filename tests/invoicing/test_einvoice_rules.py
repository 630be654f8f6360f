"""Every e-invoice is checked against the official rules before its number is used.

The edge cases of issue 13, run end to end with real rendering and the official Schematron
(Saxon-HE): a German buyer with a VAT id, reverse charge, intra-community supply with a
deliver-to country (BT-80), exempt lines, a foreign-currency invoice with its VAT in CZK, prices
with 4 decimals, credit notes. What breaks a rule fails with the rule id and its text and uses no
number; what the PDF prints equals what the XML says, to the precision the XML carries.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from lxml import etree

from factory.archive import open_index, open_store
from factory.cli.app import cli, load_commands
from factory.config import Settings
from factory.executors import InlineExecutor
from factory.invoicing.einvoice import xml_from_pdf
from factory.invoicing.validation import EInvoiceRejected, check_xml, validate_xml
from factory.jobs import load_job
from factory.runner import RunOptions, run_job
from tests.conftest import REPO, pdf_text
from tests.invoicing.test_invoices import base, invoice_job, line, write_invoices, xpath

DE_VAT = "DE136695976"     # checksums valid (python-stdnum)
SK_VAT = "SK2022749619"
IC_REASON = "Intra-community supply (Art. 138 Directive 2006/112/EC)"
RC_REASON = "Reverse charge (Art. 196 Directive 2006/112/EC)"

EDGE = [
    # German business buyer, intra-community supply of goods delivered to Germany, invoiced in
    # EUR with the VAT total also in CZK, a unit price with 4 decimals, an English invoice.
    base("I000101", customer_id="C000101", name="Müller GmbH", locale="en", country="DE",
         address_line1="Hauptstraße 1", postal_code="10115", city="Berlin",
         buyer_vat_id=DE_VAT, currency="EUR", exchange_rate="25.2851",
         deliver_to_country="DE", vat_exemption_reason=IC_REASON,
         lines=[line("3", "12.3456", "K", "0", "Card terminals")]),
    # reverse charge without the buyer's VAT id: BR-AE-02
    base("I000102", customer_id="C000102", name="Bez DIČ s.r.o.", country="SK",
         currency="EUR", exchange_rate="25.13", vat_exemption_reason=RC_REASON,
         lines=[line("1", "100", "AE", "0")]),
    # intra-community supply without the buyer's VAT id: BR-IC-02
    base("I000103", customer_id="C000103", name="Ohne USt GmbH", country="DE",
         currency="EUR", exchange_rate="25.13", deliver_to_country="DE",
         vat_exemption_reason=IC_REASON, lines=[line("1", "100", "K", "0")]),
    # exempt and standard lines on one Czech invoice
    base("I000104", lines=[line("2", "4.005", "E", "0", "Account maintenance"),
                           line("1.5", "12.505")],
         vat_exemption_reason="Osvobozeno od daně (§ 54 zákona o DPH)"),
    # a credit note
    base("I000105", type_code="381", preceding_invoice="FV2026000002",  # I000104 (C000001)
         correction_reason="Poplatek účtován dvakrát",
         preceding_invoice_date="2026-11-30", lines=[line("1", "10.0001")]),
    # reverse charge with the buyer's VAT id, Slovak business buyer
    base("I000106", customer_id="C000106", name="Firma s.r.o.", locale="sk", country="SK",
         postal_code="811 01", city="Bratislava", address_line1="Hlavná 1",
         buyer_vat_id=SK_VAT, currency="EUR", exchange_rate="25.285",
         vat_exemption_reason=RC_REASON, lines=[line("2", "45.5555", "AE", "0")]),
    # intra-community supply delivered to the buyer's own address (no deliver_to_country)
    base("I000107", customer_id="C000107", name="Lieferung GmbH", locale="en", country="DE",
         address_line1="Marktplatz 2", postal_code="80331", city="München",
         buyer_vat_id=DE_VAT, currency="EUR", exchange_rate="25.2851",
         vat_exemption_reason=IC_REASON, lines=[line("1", "250", "K", "0")]),
]


@pytest.fixture
def edge_run(tmp_path: Path, settings: Settings):
    data = write_invoices(tmp_path / "data" / "invoices.jsonl", EDGE)
    job = load_job(invoice_job(tmp_path / "jobs", data))
    report = run_job(job, settings, RunOptions(period="2026-11"), InlineExecutor())
    index = open_index(settings.default_index_url)
    store = open_store(settings.default_archive_url)
    entries = {e.record_key: e for e in index.documents.entries(job="invoice_run")}
    return report, index, store, entries


def test_rule_breakers_fail_with_the_rule_and_use_no_number(edge_run) -> None:
    report, index, _store, entries = edge_run
    assert (report.counts.archived, report.counts.failed) == (5, 2) and report.balanced
    failures = {f["key"]: f["reason"] for f in map(
        json.loads, Path(report.failures_file).read_text().splitlines())}
    assert set(failures) == {"I000102", "I000103"}
    assert "[BR-AE-02]" in failures["I000102"] and "Reverse charge" in failures["I000102"]
    assert "[BR-IC-02]" in failures["I000103"]
    assert "Buyer VAT identifier (BT-48)" in failures["I000103"]  # the rule's own text
    assert set(entries) == {"I000101", "I000104", "I000105", "I000106", "I000107"}
    # the refused records took no number: the series is gapless over the archived invoices
    assert [(n, k) for n, k, _ in index.numbering.numbers("FV2026")] == \
        [(1, "I000101"), (2, "I000104"), (3, "I000106"), (4, "I000107")]
    assert [(n, k) for n, k, _ in index.numbering.numbers("DB2026")] == [(1, "I000105")]


def test_every_archived_e_invoice_passes_the_official_rules(edge_run) -> None:
    _report, _index, store, entries = edge_run
    for key, entry in entries.items():
        _name, xml = xml_from_pdf(store.get(entry.storage_key))
        fatal = [f for f in validate_xml(xml, "cii") if f.fatal]
        assert fatal == [], (key, fatal)


def test_intra_community_supply_states_the_deliver_to_country(edge_run) -> None:
    _report, _index, store, entries = edge_run
    ship_to = "//ram:ApplicableHeaderTradeDelivery/ram:ShipToTradeParty"
    for key, city in (("I000101", ["Berlin"]), ("I000107", ["München"])):
        tree = etree.fromstring(xml_from_pdf(store.get(entries[key].storage_key))[1])
        assert xpath(tree, f"{ship_to}/ram:PostalTradeAddress/ram:CountryID/text()") == ["DE"]
        assert xpath(tree, f"{ship_to}/ram:PostalTradeAddress/ram:CityName/text()") == city
    tree = etree.fromstring(xml_from_pdf(store.get(entries["I000104"].storage_key))[1])
    assert xpath(tree, ship_to) == []  # only where a rule asks for it


def test_the_pdf_prints_prices_and_rates_at_the_xml_precision(edge_run) -> None:
    _report, _index, store, entries = edge_run
    pdf = store.get(entries["I000101"].storage_key)
    tree = etree.fromstring(xml_from_pdf(pdf)[1])
    assert xpath(tree, "//ram:NetPriceProductTradePrice/ram:ChargeAmount/text()") == ["12.3456"]
    text = pdf_text(pdf)
    assert "12.3456" in text and "12.346" not in text.replace("12.3456", "")
    assert "25.2851" in text  # the exchange rate BT-111 was computed at
    # 3 x 12.3456 = 37.0368 -> 37.04 EUR net, no VAT; VAT in CZK 0.00
    assert xpath(tree, "//ram:SpecifiedTradeSettlementHeaderMonetarySummation"
                 "/ram:LineTotalAmount/text()") == ["37.04"]
    sk = pdf_text(store.get(entries["I000106"].storage_key))
    assert "45,5555" in sk and "25,285" in sk


def test_check_xml_names_rule_id_and_text() -> None:
    broken = (Path(__file__).parents[1] / "data" / "cii-ic-without-delivery.xml")
    xml = broken.read_bytes()
    with pytest.raises(EInvoiceRejected) as caught:
        check_xml(xml, "cii", "test invoice")
    assert "BR-IC-12" in caught.value.rules
    assert "Deliver to country code (BT-80) shall not be blank" in str(caught.value)


def test_xsd_errors_come_before_the_schematron() -> None:
    findings = validate_xml(b"<Invoice xmlns='urn:oasis:names:specification:ubl:schema:xsd:"
                            b"Invoice-2'><Nonsense/></Invoice>", "ubl")
    assert findings and findings[0].rule == "XSD" and "Nonsense" in findings[0].text


def test_validate_command_runs_the_official_rules_on_sample_records(tmp_path: Path) -> None:
    data = write_invoices(tmp_path / "data" / "invoices.jsonl", [EDGE[3], EDGE[1]])
    job = invoice_job(tmp_path / "jobs", data)
    load_commands()
    env = {"FACTORY_HOME": str(REPO), "FACTORY_VAR": str(tmp_path / "var"),
           "FACTORY_WORKERS": "1"}
    result = CliRunner().invoke(cli, ["validate", str(job), "--period", "2026-11"], env=env,
                                catch_exceptions=False)
    assert result.exit_code == 2, result.output
    assert "I000102" in result.output and "BR-AE-02" in result.output


def test_identifiers_are_checked_by_checksum(tmp_path: Path, settings: Settings) -> None:
    """A VAT id or IČO with a wrong check digit fails the record (field named), no number."""
    rows = [base("I000501", buyer_vat_id="CZ12345678", lines=[line("1", "10")]),
            base("I000502", buyer_legal_id="12345678", lines=[line("1", "10")]),
            base("I000503", buyer_vat_id="CZ12345679", buyer_legal_id="12345679",
                 lines=[line("1", "10")])]
    data = write_invoices(tmp_path / "data" / "invoices.jsonl", rows)
    job = load_job(invoice_job(tmp_path / "jobs", data))
    report = run_job(job, settings, RunOptions(period="2026-11"), InlineExecutor())
    failures = {f["key"]: f["reason"] for f in map(
        json.loads, Path(report.failures_file).read_text().splitlines())}
    assert "buyer_vat_id" in failures["I000501"] and "checksum" in failures["I000501"]
    assert "buyer_legal_id" in failures["I000502"] and "check digit" in failures["I000502"]
    assert report.counts.archived == 1
    index = open_index(settings.default_index_url)
    assert [(n, k) for n, k, _ in index.numbering.numbers("FV2026")] == [(1, "I000503")]
    text = pdf_text(open_store(settings.default_archive_url).get(
        next(index.documents.entries(job="invoice_run")).storage_key))
    assert "IČO 12345679" in text and "DIČ CZ12345679" in text


def test_seller_identifiers_are_checked(tmp_path: Path) -> None:
    from factory.errors import ConfigError

    data = write_invoices(tmp_path / "data" / "invoices.jsonl", [EDGE[3]])
    import tomllib

    import tomli_w
    path = invoice_job(tmp_path / "jobs", data)
    spec = tomllib.loads(path.read_text(encoding="utf-8"))
    spec["invoice"]["seller"].update(vat_id="CZ12345678", iban="CZ6508000000192000145398",
                                     bic="SUBASKBX")
    path.write_text(tomli_w.dumps(spec), encoding="utf-8")
    from factory.invoicing.plugin import check_job

    with pytest.raises(ConfigError) as caught:
        check_job(load_job(path))
    text = str(caught.value)
    assert "invoice.seller.vat_id" in text and "invoice.seller.iban" in text


def test_credit_note_states_its_reason_and_the_invoice_it_corrects(tmp_path: Path,
                                                                   settings: Settings) -> None:
    rows = [base("I000600", lines=[line("1", "10")]),  # FV2026000001, the corrected invoice
            base("I000601", type_code="381", lines=[line("1", "10")],
                 correction_reason="Poplatek účtován dvakrát"),
            base("I000602", type_code="381", preceding_invoice="FV2026000001",
                 lines=[line("1", "10")]),
            base("I000603", type_code="381", preceding_invoice="FV2026000001",
                 preceding_invoice_date="2026-11-02",
                 correction_reason="Poplatek účtován dvakrát", lines=[line("1", "10")])]
    data = write_invoices(tmp_path / "data" / "invoices.jsonl", rows)
    job = load_job(invoice_job(tmp_path / "jobs", data))
    report = run_job(job, settings, RunOptions(period="2026-11"), InlineExecutor())
    failures = {f["key"]: f["reason"] for f in map(
        json.loads, Path(report.failures_file).read_text().splitlines())}
    assert "preceding_invoice: a credit note states the invoice it corrects" in \
        failures["I000601"]
    assert "correction_reason: a credit note states its reason" in failures["I000602"]
    index = open_index(settings.default_index_url)
    assert [(n, k) for n, k, _ in index.numbering.numbers("DB2026")] == [(1, "I000603")]
    pdf = open_store(settings.default_archive_url).get(
        next(index.documents.entries(job="invoice_run", record_key="I000603")).storage_key)
    assert "Důvod opravy Poplatek účtován dvakrát" in pdf_text(pdf)
    tree = etree.fromstring(xml_from_pdf(pdf)[1])
    assert xpath(tree, "//rsm:ExchangedDocument/ram:IncludedNote/ram:Content/text()") == \
        ["Poplatek účtován dvakrát"]
    assert [f for f in validate_xml(xml_from_pdf(pdf)[1], "cii") if f.fatal] == []


def test_a_credit_note_corrects_an_issued_invoice_of_the_same_customer(tmp_path: Path,
                                                                       settings: Settings
                                                                       ) -> None:
    """Issue 13: the corrected invoice (BG-3) is read from the index; a credit note naming a
    number that was never issued, another customer's invoice or a credit note is refused with
    the reason and uses no number; the run goes on."""
    note = {"type_code": "381", "correction_reason": "Poplatek účtován dvakrát",
            "lines": [line("1", "10")]}
    rows = [base("I000801", lines=[line("1", "100")]),                     # FV2026000001
            base("I000802", customer_id="C000002", lines=[line("1", "50")]),  # FV2026000002
            base("I000803", preceding_invoice="FV2026000001", **note),     # DB2026000001: ok
            base("I000804", preceding_invoice="FV2026000099", **note),     # never issued
            base("I000805", preceding_invoice="FV2026000002", **note),     # C000002's invoice
            base("I000806", preceding_invoice="DB2026000001", **note),     # a credit note
            base("I000807", preceding_invoice="nonsense", **note)]
    data = write_invoices(tmp_path / "data" / "invoices.jsonl", rows)
    job = load_job(invoice_job(tmp_path / "jobs", data))
    report = run_job(job, settings, RunOptions(period="2026-11"), InlineExecutor())
    assert (report.counts.archived, report.counts.failed) == (3, 4) and report.balanced
    failures = {f["key"]: f["reason"] for f in map(
        json.loads, Path(report.failures_file).read_text().splitlines())}
    assert "preceding_invoice: FV2026000099 is not an issued invoice" in failures["I000804"]
    assert "preceding_invoice: FV2026000002 was issued to another customer (C000002)," \
        " not to C000001" in failures["I000805"]
    assert "preceding_invoice: DB2026000001 is a credit note, not an invoice" in \
        failures["I000806"]
    assert "preceding_invoice: nonsense is not an issued invoice" in failures["I000807"]
    index = open_index(settings.default_index_url)
    assert [(n, k) for n, k, _ in index.numbering.numbers("DB2026")] == [(1, "I000803")]
    pdf = open_store(settings.default_archive_url).get(
        next(index.documents.entries(job="invoice_run", record_key="I000803")).storage_key)
    assert "FV2026000001" in pdf_text(pdf)  # printed reference = the issued invoice
