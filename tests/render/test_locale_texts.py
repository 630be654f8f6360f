"""Dates, greetings and addresses as a native reader expects them, read back from the
rendered HTML and PDF: one date style for the body and one for tables per locale, English as
en_GB, no double full stop after "р." / "г.", the formal salutation with the vocative, and
addresses by the destination's postal rules (no country line at home)."""

from __future__ import annotations

import re
import shutil
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from factory.jobs import load_job
from factory.models import Period
from factory.pipeline.document import DocumentRenderer
from factory.templates import DocumentMeta, DocumentTemplates
from factory.templates.formatting import DATE_STYLES, day, month_year
from factory.templates.postal import address_lines
from factory.templates.salutation import salutation
from tests.conftest import REPO, STATEMENT_JOB, pdf_text
from tests.render.test_render import statement_record

LOCALES = ["en", "cs", "sk", "uk", "bg"]
META = DocumentMeta("doc-1", "statement", "monthly_statements", Period.parse("2026-11"),
                    date(2026, 12, 1), "f" * 64)
D = date(2026, 11, 30)


def templates(set_name: str = "statement", root: Path = REPO) -> DocumentTemplates:
    return DocumentTemplates.load(root / "templates", root / "assets", set_name, "northwind",
                                  LOCALES)


def render_string(t: DocumentTemplates, source: str, locale: str, **values: object) -> str:
    from factory.templates.environment import translating

    context = {"locale": locale, "format_locale": t.format_locale(locale),
               "brand": t.brand_context(locale), **values}
    with translating(t.catalogs.for_locale(locale)):
        return t.env.from_string(source).render(context)


# -- dates ------------------------------------------------------------------------------------

@pytest.mark.fast
@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("style", [*sorted(DATE_STYLES), "month_year"])
def test_a_date_at_the_end_of_a_sentence_has_one_full_stop(locale: str, style: str) -> None:
    t = templates()
    expression = "d | month_year" if style == "month_year" else f"d | date({style!r})"
    text = render_string(t, "{{ _('It is due on %(when)s.', when=" + expression + ") }}",
                         locale, d=D)
    assert text.endswith(".") and not text.endswith(".."), text
    assert ".." not in text


@pytest.mark.fast
@pytest.mark.parametrize(("locale", "ending"), [("uk", "р."), ("bg", "г.")])
def test_uk_and_bg_dates_do_end_with_their_abbreviation(locale: str, ending: str) -> None:
    assert day(locale, D).endswith(ending)
    assert month_year(locale, D).endswith(ending)


@pytest.mark.fast
@pytest.mark.parametrize("locale", ["uk", "bg"])
@pytest.mark.parametrize("set_name", ["statement", "renewal_notice"])
def test_rendered_documents_have_no_double_full_stop(locale: str, set_name: str) -> None:
    t = templates(set_name)
    record = statement_record(locale).data | {"opening_balance": Decimal("1500.00")}
    record["transactions"] = []
    html = t.render("document.html", record, locale, META)
    assert "р.." not in html and "г.." not in html
    assert ("р." if locale == "uk" else "г.") in html


@pytest.mark.parametrize(("locale", "body", "table"), [
    ("cs", "1. prosince 2026", "2. 11. 2026"),
    ("sk", "1. decembra 2026", "2. 11. 2026"),
    ("uk", "1 грудня 2026 р.", "02.11.2026"),
    ("bg", "1 декември 2026 г.", "02.11.2026"),
    ("en", "1 December 2026", "02/11/2026"),
])
def test_one_date_style_for_the_body_and_one_for_tables(
        locale: str, body: str, table: str, tmp_path: Path) -> None:
    renderer = DocumentRenderer(load_job(STATEMENT_JOB), _settings(tmp_path),
                                Period.parse("2026-11"), date(2026, 12, 1))
    record = statement_record(locale, 2)
    html, artifact = renderer.render(record, "doc-dates")
    text = _plain(pdf_text(artifact.data))
    assert _plain(body) in text          # the statement date in the header
    assert _plain(table) in text         # the first transaction in the table
    assert "11/2/26" not in text and "02.11.26" not in text and "Nov 2" not in text
    cells = re.findall(r"<tr class=\"tx\"[^>]*>\s*<td>([^<]+)</td>", html)
    assert cells and all(_plain(c) == _plain(day(renderer.templates.format_locale(locale),
                                                  c_date, "table"))
                         for c, c_date in zip(cells, [date(2026, 11, 1), date(2026, 11, 2)],
                                              strict=True))


@pytest.mark.fast
def test_english_is_british_unless_the_brand_says_otherwise(tmp_path: Path) -> None:
    t = templates()
    assert render_string(t, "{{ d | date }} {{ d | date('table') }}", "en", d=D) == \
        "30 November 2026 30/11/2026"
    shutil.copytree(REPO / "templates", tmp_path / "templates")
    shutil.copytree(REPO / "assets", tmp_path / "assets")
    brand = tmp_path / "assets" / "northwind" / "brand.toml"
    brand.write_text(brand.read_text(encoding="utf-8").replace(
        'english = "en_GB"', 'english = "en_US"'), encoding="utf-8")
    us = templates(root=tmp_path)
    assert render_string(us, "{{ d | date }}", "en", d=D) == "November 30, 2026"
    assert 'lang="en-US"' in us.render("document.html", _typed("en"), "en", META)


# -- salutation -------------------------------------------------------------------------------

@pytest.mark.fast
@pytest.mark.parametrize(("locale", "name", "form", "expected"), [
    ("cs", "Petr Černý", "mr", "Vážený pane Černý,"),
    ("cs", "Jan Novák", "mr", "Vážený pane Nováku,"),
    ("cs", "Tomáš Svoboda", "mr", "Vážený pane Svobodo,"),
    ("cs", "Jiří Němec", "mr", "Vážený pane Němče,"),
    ("cs", "Eva Němcová", "ms", "Vážená paní Němcová,"),
    ("sk", "Ján Horváth", "mr", "Vážený pán Horváth,"),
    ("sk", "Mária Kováčová", "ms", "Vážená pani Kováčová,"),
    ("uk", "Тарас Шевченко", "mr", "Шановний пане Шевченку!"),
    ("uk", "Дмитро Мельник", "mr", "Шановний пане Мельнику!"),
    ("uk", "Олена Шевченко", "ms", "Шановна пані Шевченко!"),
    ("bg", "Иван Иванов", "mr", "Уважаеми господин Иванов,"),
    ("bg", "Мария Петрова", "ms", "Уважаема госпожо Петрова,"),
    ("en", "James O'Connor", "mr", "Dear Mr O'Connor,"),
    ("en", "Grace Smith", "ms", "Dear Ms Smith,"),
])
def test_formal_salutation_per_locale(locale: str, name: str, form: str, expected: str) -> None:
    assert salutation(locale, name, form) == expected


@pytest.mark.fast
@pytest.mark.parametrize(("locale", "expected"), [
    ("cs", "Vážená paní, vážený pane,"), ("sk", "Vážená pani, vážený pán,"),
    ("uk", "Шановний клієнте!"), ("bg", "Уважаеми клиенте,"), ("en", "Dear Sir or Madam,"),
])
def test_neutral_salutation_when_it_cannot_be_formed(locale: str, expected: str) -> None:
    assert salutation(locale, "Petr Černý", None) == expected   # form of address unknown
    assert salutation(locale, "Madonna", "ms") == expected      # no surname
    assert salutation(locale, "X Y", "sir") == expected         # unknown form


@pytest.mark.fast
def test_surname_field_wins_over_the_last_word() -> None:
    assert salutation("cs", "Jan Novák Svoboda", "mr", surname="Novák") == "Vážený pane Nováku,"


def test_the_statement_greets_formally_in_the_pdf(tmp_path: Path) -> None:
    renderer = DocumentRenderer(load_job(STATEMENT_JOB), _settings(tmp_path),
                                Period.parse("2026-11"), date(2026, 12, 1))
    _, artifact = renderer.render(statement_record("cs", 1, name="Petr Černý",
                                                   salutation="mr"), "doc-greeting")
    text = pdf_text(artifact.data)
    assert "Vážený pane Černý," in text
    assert "Dobrý den" not in text and "Petr Černý," not in text


# -- addresses --------------------------------------------------------------------------------

def _address(country: str, **changes: str) -> dict:
    data = {"name": "Jan Novák", "address_line1": "Husova 5", "address_line2": "3. patro",
            "postal_code": "110 00", "city": "Praha 1", "country": country}
    return data | changes


@pytest.mark.fast
def test_a_domestic_address_has_no_country_line() -> None:
    assert address_lines(_address("CZ"), "CZ", "cs") == [
        "Jan Novák", "Husova 5", "3. patro", "110 00 Praha 1"]


@pytest.mark.fast
def test_a_foreign_address_ends_with_the_country_in_capitals_in_the_senders_language() -> None:
    lines = address_lines(_address("BG", postal_code="1000", city="София", address_line2=""),
                          "CZ", "cs")
    assert lines == ["Jan Novák", "Husova 5", "1000 СОФИЯ", "BULHARSKO"]
    assert address_lines(_address("SK", postal_code="811 01", city="Bratislava"), "CZ",
                         "cs")[-1] == "SLOVENSKO"
    assert address_lines(_address("CZ"), "SK", "sk")[-1] == "ČESKO"


@pytest.mark.fast
def test_each_country_has_its_own_line_order() -> None:
    lines = address_lines(_address("GB", postal_code="SW1A 1AA", city="London",
                                   address_line2=""), "CZ", "cs")
    assert lines == ["Jan Novák", "Husova 5", "LONDON", "SW1A 1AA", "SPOJENÉ KRÁLOVSTVÍ"]


@pytest.mark.parametrize(("country", "expected"), [
    ("CZ", ["Олена Шевченко", "Husova 5", "120 00 Praha 2"]),
    ("BG", ["Олена Шевченко", "ул. Витоша 12", "1000 СОФИЯ", "BULHARSKO"]),
])
def test_address_block_in_the_pdf(tmp_path: Path, country: str, expected: list[str]) -> None:
    renderer = DocumentRenderer(load_job(STATEMENT_JOB), _settings(tmp_path),
                                Period.parse("2026-11"), date(2026, 12, 1))
    changes: dict[str, object] = {"country": country}
    if country == "CZ":
        changes |= {"postal_code": "120 00", "city": "Praha 2", "address_line1": "Husova 5",
                    "account_iban": "CZ6508000000192000145399"}
    _, artifact = renderer.render(statement_record("cs", 1, **changes), "doc-address")
    lines = [line.strip() for line in pdf_text(artifact.data).splitlines()]
    start = lines.index("Олена Шевченко")
    # The block, and no "CZ" / "BG" line after it (the page footer or heading follows).
    assert lines[start:start + len(expected)] == expected
    assert lines[start + len(expected)] not in {"CZ", "BG", "ČESKO"}


def _plain(text: str) -> str:
    return " ".join(text.replace("\xa0", " ").replace("\u202f", " ").split())


def _settings(tmp_path: Path):
    from factory.config import load_settings

    return load_settings(REPO, {}, var_dir=str(tmp_path / "var"))


def _typed(locale: str) -> dict:
    data = statement_record(locale, 0).data | {"opening_balance": Decimal("1.00")}
    data["transactions"] = []
    return data


# -- decimal input ----------------------------------------------------------------------------

def _schema_job(tmp_path: Path, decimal_locale: str | None):
    import tomllib

    import tomli_w

    data = tomllib.loads(STATEMENT_JOB.read_text(encoding="utf-8"))
    if decimal_locale:
        data["schema"]["decimal_locale"] = decimal_locale
    path = tmp_path / "job.toml"
    path.write_text(tomli_w.dumps(data), encoding="utf-8")
    return load_job(path)


def _raw(**changes: object):
    from factory.models import RawRecord

    data = dict(statement_record("cs", 1).data) | changes
    return RawRecord(data=data, position=statement_record("cs").position)


@pytest.mark.fast
@pytest.mark.parametrize(("written", "value"), [
    ("12 345,50", "12345.50"), ("12\u00a0345,50", "12345.50"), ("-1 234,5", "-1234.5"),
    ("12345,50", "12345.50"), ("0,05", "0.05"),
])
def test_decimal_input_in_the_locales_form_when_the_job_says_so(
        tmp_path: Path, written: str, value: str) -> None:
    from factory.jobs import RecordSchema

    schema = RecordSchema(_schema_job(tmp_path, "cs"))
    record = schema.validate(_raw(opening_balance=written, transactions=[
        {"date": "2026-11-02", "description": "x", "amount": written, "reference": None}]))
    assert Decimal(record.data["opening_balance"]) == Decimal(value)
    typed = schema.typed(record.data)
    assert typed["opening_balance"] == Decimal(value)
    assert typed["transactions"][0]["amount"] == Decimal(value)


@pytest.mark.fast
def test_a_number_not_in_the_locales_form_names_the_field(tmp_path: Path) -> None:
    from factory.errors import RecordError
    from factory.jobs import RecordSchema

    schema = RecordSchema(_schema_job(tmp_path, "cs"))
    with pytest.raises(RecordError) as caught:
        schema.validate(_raw(opening_balance="12.345,50"))
    assert "opening_balance" in str(caught.value) and "cs" in str(caught.value)
    plain = RecordSchema(_schema_job(tmp_path, None))
    with pytest.raises(RecordError):
        plain.validate(_raw(opening_balance="12 345,50"))
