"""Real WeasyPrint rendering, checked by reading the PDF back: text, pages, fonts, metadata,
PDF/A and PDF/UA, and a fetcher that lets nothing outside the allowed folders in."""

from __future__ import annotations

import io
import os
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from pypdf import PdfReader

from factory.errors import RenderError, ResourceBlockedError
from factory.jobs import load_job
from factory.models import Period, Position, Record
from factory.pipeline.document import DocumentRenderer
from factory.render import PdfRenderer
from tests.conftest import STATEMENT_JOB, pdf_fonts, pdf_text


def statement_record(locale: str, transactions: int = 3, **changes: object) -> Record:
    data = {
        "customer_id": "C000042", "name": "Олена Шевченко", "email": None, "phone": None,
        "locale": locale, "currency": "EUR", "address_line1": "ул. Витоша 12",
        "address_line2": None, "postal_code": "1000", "city": "София", "country": "BG",
        "account_iban": "BG80BNBG96611020345678", "opening_balance": "1500.00",
        "preferred_channel": None, "consent_email": None, "consent_sms": None,
        "transactions": [{"date": f"2026-11-{(i % 28) + 1:02d}", "description": f"Фантастико {i}",
                          "amount": "-12.30", "reference": None} for i in range(transactions)],
    }
    data.update(changes)
    return Record("C000042", "C000042", locale, Position("test", 1), data)


@pytest.fixture(scope="module")
def renderer(tmp_path_factory: pytest.TempPathFactory) -> DocumentRenderer:
    from factory.config import load_settings
    from tests.conftest import REPO

    settings = load_settings(REPO, {}, var_dir=str(tmp_path_factory.mktemp("var")))
    return DocumentRenderer(load_job(STATEMENT_JOB), settings, Period.parse("2026-11"),
                            date(2026, 12, 1))


@pytest.mark.parametrize(("locale", "labels"), [
    ("uk", ["Виписка з рахунку", "Кінцевий залишок", "Сторінка 1 з 1"]),
    ("bg", ["Извлечение от сметка", "Крайно салдо", "Страница 1 от 1"]),
    ("cs", ["Výpis z účtu", "Konečný zůstatek", "Strana 1 z 1"]),
    ("sk", ["Výpis z účtu", "Konečný zostatok", "Strana 1 z 1"]),
    ("en", ["Account statement", "Closing balance", "Page 1 of 1"]),
])
def test_statement_reads_back_in_its_language(renderer: DocumentRenderer, locale: str,
                                              labels: list[str]) -> None:
    _html, artifact = renderer.render(statement_record(locale), "doc-" + locale)
    text = pdf_text(artifact.data)
    for label in labels:
        assert label in text
    assert "Олена Шевченко" in text and "BG80 BNBG 9661 1020 3456 78" in text
    assert artifact.page_count == 1
    assert artifact.media_type == "application/pdf"
    assert len(artifact.sha256) == 64


def test_long_statement_paginates_with_page_x_of_y(renderer: DocumentRenderer) -> None:
    _, artifact = renderer.render(statement_record("cs", transactions=120), "doc-long")
    reader = PdfReader(io.BytesIO(artifact.data))
    pages = len(reader.pages)
    assert pages == artifact.page_count and pages >= 3
    for number, page in enumerate(reader.pages, start=1):
        assert f"Strana {number} z {pages}" in page.extract_text()
    assert "Fantastico" not in pdf_text(artifact.data)
    assert pdf_text(artifact.data).count("Фантастико") == 120


def test_brand_fonts_are_embedded(renderer: DocumentRenderer) -> None:
    _, artifact = renderer.render(statement_record("bg"), "doc-fonts")
    assert pdf_fonts(artifact.data) == {"Noto Sans Regular", "Noto Sans Bold"}


def test_metadata_and_pdf_a3b(renderer: DocumentRenderer) -> None:
    _, artifact = renderer.render(statement_record("cs"), "0b6f1e7a-2c1d-5f3e-9a77-123456789012")
    reader = PdfReader(io.BytesIO(artifact.data))
    info = reader.metadata
    assert info.title == "Výpis z účtu listopad 2026"
    assert info.author == "Northwind Bank a.s."
    assert info["/documentid"] == "0b6f1e7a-2c1d-5f3e-9a77-123456789012"
    assert len(info["/templateversion"]) == 64
    xmp = reader.trailer["/Root"]["/Metadata"].get_object().get_data().decode()
    assert 'pdfaid:part="3"' in xmp and 'pdfaid:conformance="B"' in xmp
    assert str(reader.trailer["/ID"][0]) == "0b6f1e7a-2c1d-5f3e-9a77-123456789012"


def test_pdf_ua1_is_tagged(tmp_path: Path) -> None:
    ua = PdfRenderer(base_url=tmp_path.as_uri() + "/", allowed=(tmp_path,), stylesheets=[],
                     pdf_variant="pdf/ua-1", tagged=True)
    artifact = ua.render('<html lang="cs"><head><title>Výpis</title></head>'
                         "<body><h1>Výpis</h1><p>Text</p></body></html>", "doc-ua")
    root = PdfReader(io.BytesIO(artifact.data)).trailer["/Root"]
    assert bool(root["/MarkInfo"]["/Marked"])
    assert "/StructTreeRoot" in root
    xmp = root["/Metadata"].get_object().get_data().decode()
    assert 'pdfuaid:part="1"' in xmp


@pytest.fixture
def confined(tmp_path: Path) -> tuple[PdfRenderer, Path]:
    allowed = tmp_path / "allowed"
    allowed.mkdir()
    (allowed / "ok.css").write_text("p { color: red }", encoding="utf-8")
    secret = tmp_path / "secret.svg"
    secret.write_text('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>',
                      encoding="utf-8")
    os.symlink(secret, allowed / "link.svg")
    renderer = PdfRenderer(base_url=allowed.as_uri() + "/", allowed=(allowed,), stylesheets=[],
                           pdf_variant=None)
    return renderer, secret


@pytest.mark.parametrize("markup", [
    '<img src="file:///etc/passwd">',
    '<img src="../secret.svg">',
    '<img src="link.svg">',
    '<link rel="stylesheet" href="http://127.0.0.1:9/x.css">',
    '<div style="background: url(https://example.com/track.png)">x</div>',
    '<img src="ftp://example.com/x.png">',
])
def test_fetcher_blocks_everything_outside_the_allowed_folders(
        confined: tuple[PdfRenderer, Path], markup: str) -> None:
    renderer, _ = confined
    with pytest.raises(ResourceBlockedError, match="blocked resource"):
        renderer.render(f"<html><body>{markup}<p>hi</p></body></html>", "doc-x")


def test_fetcher_allows_files_in_the_folder_and_data_urls(
        confined: tuple[PdfRenderer, Path]) -> None:
    renderer, _ = confined
    pixel = ("data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' width='4' "
             "height='4'/%3E")
    artifact = renderer.render(f'<html><head><link rel="stylesheet" href="ok.css"></head>'
                               f'<body><img src="{pixel}"><p>hi</p></body></html>', "doc-ok")
    assert "hi" in pdf_text(artifact.data)


def test_missing_allowed_file_fails_the_document(confined: tuple[PdfRenderer, Path]) -> None:
    renderer, _ = confined
    with pytest.raises(RenderError, match="missing resource"):
        renderer.render('<html><body><img src="nope.png"></body></html>', "doc-missing")


def test_injection_in_a_data_field_stays_text(renderer: DocumentRenderer) -> None:
    evil = ('<img src="file:///etc/passwd"> <style>*{background:url(http://x/y)}</style>'
            ' url(file:///etc/shadow)')
    _, artifact = renderer.render(statement_record("en", name=evil, transactions=1,
                                                   opening_balance=str(Decimal("1"))), "doc-e")
    text = pdf_text(artifact.data)
    assert '<img src="file:///etc/passwd">' in text
    assert "url(file:///etc/shadow)" in text
    assert "root:" not in text
