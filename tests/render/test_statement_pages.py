"""Multi-page statements read back page by page: each page but the last ends with the running
balance carried forward, each following page starts with it brought forward, and the closing
balance appears once, at the end (a repeated <tfoot> used to print it on every page)."""

from __future__ import annotations

import io
import re
from datetime import date
from decimal import Decimal

import pytest
from pypdf import PdfReader

from factory.jobs import load_job
from factory.models import Period
from factory.pipeline.document import DocumentRenderer
from factory.templates.formatting import money
from tests.conftest import REPO, STATEMENT_JOB
from tests.render.test_render import statement_record

LABELS = {  # carried forward, brought forward, closing balance
    "cs": ("Převod na další stranu", "Převod z předchozí strany", "Konečný zůstatek"),
    "sk": ("Prevod na ďalšiu stranu", "Prevod z predchádzajúcej strany", "Konečný zostatok"),
    "uk": ("Перенесено на наступну сторінку", "Перенесено з попередньої сторінки",
           "Кінцевий залишок"),
    "bg": ("Пренос на следващата страница", "Пренос от предходната страница", "Крайно салдо"),
    "en": ("Carried forward", "Brought forward", "Closing balance"),
}
ROW = re.compile(r"Фантастико (\d+)")


@pytest.fixture(scope="module")
def renderer(tmp_path_factory: pytest.TempPathFactory) -> DocumentRenderer:
    from factory.config import load_settings

    settings = load_settings(REPO, {}, var_dir=str(tmp_path_factory.mktemp("var")))
    return DocumentRenderer(load_job(STATEMENT_JOB), settings, Period.parse("2026-11"),
                            date(2026, 12, 1))


def balance_after(row: int, locale: str) -> str:
    """The running balance after row ``row`` of `statement_record` (1500.00, -12.30 each)."""
    fmt = "en_GB" if locale == "en" else locale
    return money(fmt, Decimal("1500.00") - Decimal("12.30") * (row + 1), "EUR")


def pages_of(data: bytes) -> list[str]:
    return [" ".join(page.extract_text().split())
            for page in PdfReader(io.BytesIO(data)).pages]


def norm(text: str) -> str:
    return " ".join(text.replace("\u00a0", " ").replace("\u202f", " ").split())


@pytest.mark.parametrize("locale", sorted(LABELS))
@pytest.mark.parametrize("transactions", [45, 120])
def test_every_page_carries_its_running_balance_forward(
        renderer: DocumentRenderer, locale: str, transactions: int) -> None:
    carried, brought, closing = LABELS[locale]
    _, artifact = renderer.render(statement_record(locale, transactions), "doc-pages")
    pages = [norm(text) for text in pages_of(artifact.data)]
    assert len(pages) >= 2
    table_pages = [i for i, text in enumerate(pages) if ROW.search(text)]
    last_table_page = table_pages[-1]
    for number, text in enumerate(pages):
        rows = [int(n) for n in ROW.findall(text)]
        if number < last_table_page:
            value = norm(balance_after(rows[-1], locale))
            assert f"{carried}: {value}" in text, (number, text[-300:])
            assert f"{brought}: {value}" in pages[number + 1]
            assert closing not in text
        else:
            assert carried not in text
        if number == 0:
            assert brought not in text
    # The closing balance: once, on the page where the table ends, with the right amount.
    whole = " ".join(pages)
    assert whole.count(closing) == 1
    final = norm(balance_after(transactions - 1, locale))
    assert f"{closing} {final}" in pages[last_table_page]


def test_one_page_statement_has_no_carried_lines(renderer: DocumentRenderer) -> None:
    _, artifact = renderer.render(statement_record("cs", 3), "doc-one")
    (text,) = [norm(t) for t in pages_of(artifact.data)]
    assert "Převod" not in text
    assert text.count("Konečný zůstatek") == 1
