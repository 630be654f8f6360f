"""Payment QR codes on invoices, read back from the rendered PDF with an independent reader
(zxing-cpp): QR Platba (SPAYD) for CZK, PAY by square for EUR; the variable symbol printed, in
the QR code and in the XML's payment reference (BT-83) is the same; a 4-line invoice with its
bank details and QR code fits one page; a credit note has no code."""

from __future__ import annotations

import io
import lzma
from pathlib import Path

import pypdfium2
import pytest
import zxingcpp
from lxml import etree
from pypdf import PdfReader

from factory.archive import open_index, open_store
from factory.config import Settings
from factory.executors import InlineExecutor
from factory.invoicing.einvoice import xml_from_pdf
from factory.jobs import load_job
from factory.runner import RunOptions, run_job
from tests.conftest import pdf_text
from tests.invoicing.test_invoices import NS, base, invoice_job, line, write_invoices


def qr_codes(pdf: bytes) -> list[str]:
    document = pypdfium2.PdfDocument(pdf)
    found = []
    for page in document:
        image = page.render(scale=300 / 72).to_pil()
        found += [b.text for b in zxingcpp.read_barcodes(image)
                  if b.format == zxingcpp.BarcodeFormat.QRCode]
    return found


def by_square_fields(code: str) -> list[str]:
    """Decode a PAY by square payload (base32hex of header + LZMA1 raw data) to its fields."""
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUV"
    bits = "".join(f"{alphabet.index(c):05b}" for c in code)
    raw = int(bits, 2).to_bytes(len(bits) // 8 + 1, "big")[-(len(bits) // 8):] \
        if len(bits) % 8 == 0 else int(bits[: len(bits) // 8 * 8], 2).to_bytes(len(bits) // 8,
                                                                                 "big")
    data = lzma.decompress(raw[4:], format=lzma.FORMAT_RAW, filters=[
        {"id": lzma.FILTER_LZMA1, "lc": 3, "lp": 0, "pb": 2, "dict_size": 128 * 1024}])
    return data[4:].decode("utf-8").split("\t")


@pytest.fixture
def qr_run(tmp_path: Path, settings: Settings):
    rows = [
        base("I000201", lines=[line("1", "100"), line("2", "12.3456"),
                               line("1", "4.005", "E", "0"), line("3", "0.335", rate="12")],
             vat_exemption_reason="Osvobozeno od daně"),
        base("I000202", locale="sk", country="SK", currency="EUR", exchange_rate="25.285",
             postal_code="811 01", city="Bratislava", address_line1="Hlavná 1",
             lines=[line("1", "45.555")]),
        base("I000203", type_code="381", preceding_invoice="FV2026000001",
             correction_reason="Poplatek účtován dvakrát",
             lines=[line("1", "10")]),
    ]
    data = write_invoices(tmp_path / "data" / "invoices.jsonl", rows)
    job = load_job(invoice_job(tmp_path / "jobs", data))
    report = run_job(job, settings, RunOptions(period="2026-11"), InlineExecutor())
    assert report.counts.archived == 3, report
    store = open_store(settings.default_archive_url)
    entries = {e.record_key: e for e in open_index(settings.default_index_url)
               .documents.entries(job="invoice_run")}
    return {key: store.get(entry.storage_key) for key, entry in entries.items()}, entries


def payment_reference(pdf: bytes) -> str:
    tree = etree.fromstring(xml_from_pdf(pdf)[1])
    return tree.xpath("//ram:ApplicableHeaderTradeSettlement/ram:PaymentReference/text()",
                      namespaces=NS)[0]


def test_czk_invoice_carries_spayd_matching_the_xml(qr_run) -> None:
    pdfs, entries = qr_run
    pdf = pdfs["I000201"]
    assert entries["I000201"].page_count == 1  # 4 lines, bank details and QR: one page
    pages = PdfReader(io.BytesIO(pdf)).pages  # read back: the page the payment sentence is on
    assert len(pages) == 1 and "uhraďte na účet" in pages[0].extract_text()
    reference = payment_reference(pdf)
    assert reference == "2026000001"
    codes = qr_codes(pdf)
    assert len(codes) == 1
    fields = dict(part.split(":", 1) for part in codes[0].split("*")[2:] if part)
    assert fields["ACC"] == "CZ6508000000192000145399+GIBACZPX"
    assert fields["CC"] == "CZK" and fields["X-VS"] == reference
    text = pdf_text(pdf)
    assert "Variabilní symbol" in text and text.count(reference) >= 2  # bank block, sentence
    assert fields["AM"].replace(".", ",") in text.replace("\xa0", " ")


def test_eur_invoice_carries_pay_by_square(qr_run) -> None:
    pdfs, _entries = qr_run
    pdf = pdfs["I000202"]
    codes = qr_codes(pdf)
    assert len(codes) == 1
    fields = by_square_fields(codes[0])
    reference = payment_reference(pdf)
    assert reference == "2026000002"
    assert "EUR" in fields and reference in fields
    assert "CZ6508000000192000145399" in fields and "GIBACZPX" in fields
    assert "Variabilný symbol" in pdf_text(pdf)


def test_credit_note_has_no_payment_code(qr_run) -> None:
    pdfs, _entries = qr_run
    assert qr_codes(pdfs["I000203"]) == []


def test_lines_read_in_the_invoice_language(tmp_path: Path, settings: Settings) -> None:
    """Units and VAT categories in words of the invoice's language, not raw codes."""
    rows = [base("I000401", lines=[
        {**line("3", "10", "S", "21", "Pronájem schránky"), "unit": "MON"},
        {**line("1", "45", "S", "21", "Poradenství"), "unit": "HUR"},
        {**line("1.5", "4.005", "E", "0", "Vedení účtu"), "unit": "C62"}],
        vat_exemption_reason="Osvobozená finanční služba (§ 54 zákona o DPH)")]
    data = write_invoices(tmp_path / "data" / "invoices.jsonl", rows)
    job = load_job(invoice_job(tmp_path / "jobs", data))
    report = run_job(job, settings, RunOptions(period="2026-11"), InlineExecutor())
    assert report.counts.archived == 1
    entry = next(open_index(settings.default_index_url).documents.entries(job="invoice_run"))
    text = pdf_text(open_store(settings.default_archive_url).get(entry.storage_key))
    for expected in ("3 měs.", "1 h", "1,5 ks", "21 %", "osvobozeno"):
        assert expected in text, expected
    for raw in ("MON", "HUR", "C62", "S 21 %", "E 0 %"):
        assert raw not in text, raw


@pytest.mark.parametrize(("locale", "expected"), [
    ("sk", ("3 mes.", "1 h", "1,5 ks", "2 dni", "21 %", "oslobodené",
            "prenesenie daňovej povinnosti")),
    ("uk", ("3 міс.", "1 год", "2 дн.", "21 %", "звільнено", "зворотне оподаткування")),
])
def test_lines_read_in_every_invoice_language(tmp_path: Path, settings: Settings, locale: str,
                                              expected: tuple[str, ...]) -> None:
    """The same in Slovak and Ukrainian (read back from the PDF), reverse charge included."""
    rows = [base("I000411", locale=locale, customer_id="C000411", name="Firma s.r.o.",
                 country="SK", postal_code="811 01", city="Bratislava",
                 address_line1="Hlavná 1", buyer_vat_id="SK2022749619",
                 vat_exemption_reason="Oslobodené / reverse charge", lines=[
        {**line("3", "10", "S", "21"), "unit": "MON"},
        {**line("1", "45", "S", "21"), "unit": "HUR"},
        {**line("1.5", "4.005", "E", "0"), "unit": "C62"},
        {**line("2", "5", "AE", "0"), "unit": "DAY"}])]
    data = write_invoices(tmp_path / "data" / "invoices.jsonl", rows)
    job = load_job(invoice_job(tmp_path / "jobs", data))
    report = run_job(job, settings, RunOptions(period="2026-11"), InlineExecutor())
    assert report.counts.archived == 1, report.failure_reasons
    entry = next(open_index(settings.default_index_url).documents.entries(job="invoice_run"))
    text = pdf_text(open_store(settings.default_archive_url).get(entry.storage_key))
    for word in expected:
        assert word in text, (locale, word)
    for raw in ("MON", "HUR", "C62", "DAY", "S 21 %", "E 0 %", "AE 0 %"):
        assert raw not in text, raw


def test_sample_exemption_reasons_are_in_the_invoice_language() -> None:
    from factory.models import Period
    from factory.samples.invoices import invoices

    rows = [r for r in invoices(60, 2026, Period.parse("2026-11")) if r["vat_exemption_reason"]]
    czech = [r["vat_exemption_reason"] for r in rows if r["locale"] == "cs"]
    assert czech and all("DPH" in reason or "daňov" in reason for reason in czech)
    assert not any("Exempt" in r["vat_exemption_reason"] for r in rows if r["locale"] != "en")
