"""Templates: sandboxed, escaped, strict, translated, and versioned by content."""

from __future__ import annotations

import shutil
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from factory.errors import ConfigError, TemplateError
from factory.models import Period
from factory.templates import DocumentMeta, DocumentTemplates, TemplateSet
from factory.templates.brand import load_brand
from factory.templates.formatting import money
from tests.conftest import REPO

pytestmark = pytest.mark.fast

LOCALES = ["en", "cs", "sk", "uk", "bg"]
META = DocumentMeta("doc-1", "statement", "monthly_statements", Period.parse("2026-11"),
                    date(2026, 12, 1), "f" * 64)


def copy_project(tmp_path: Path) -> tuple[Path, Path]:
    shutil.copytree(REPO / "templates", tmp_path / "templates")
    shutil.copytree(REPO / "assets", tmp_path / "assets")
    return tmp_path / "templates", tmp_path / "assets"


def load(templates: Path, assets: Path) -> DocumentTemplates:
    return DocumentTemplates.load(templates, assets, "statement", "northwind", LOCALES)


def record(**changes: object) -> dict:
    data = {
        "customer_id": "C000001", "name": "Jana", "address_line1": "Husova 5",
        "address_line2": None, "postal_code": "110 00", "city": "Praha", "country": "CZ",
        "account_iban": "CZ6508000000192000145399", "currency": "CZK",
        "opening_balance": Decimal("100.00"),
        "transactions": [{"date": date(2026, 11, 2), "description": "Albert",
                          "amount": Decimal("-20.50"), "reference": None}],
    }
    data.update(changes)
    return data


@pytest.mark.parametrize("locale", LOCALES)
def test_every_locale_is_fully_translated(locale: str) -> None:
    templates = load(REPO / "templates", REPO / "assets")
    assert templates.catalogs.missing(locale) == []


@pytest.mark.parametrize(("locale", "expected"), [
    ("cs", "1\xa0234,50\xa0Kč"), ("en", "CZK\xa01,234.50"), ("sk", "1\xa0234,50\xa0CZK"),
    ("uk", "1\xa0234,50\xa0CZK"), ("bg", "1\xa0234,50\xa0CZK"),
])
def test_money_uses_cldr_rules(locale: str, expected: str) -> None:
    assert money(locale, Decimal("1234.50"), "CZK") == expected


def test_money_spacing_for_negative_amounts_and_symbols() -> None:
    assert money("en", Decimal("-5"), "CZK") == "-CZK\xa05.00"
    assert money("en", Decimal("-5"), "EUR") == "-€5.00"
    assert money("cs", Decimal("-5"), "EUR") == "-5,00\xa0€"


def test_render_translates_and_escapes() -> None:
    templates = load(REPO / "templates", REPO / "assets")
    html = templates.render("document.html", record(name='<script>x</script> & "co"'), "uk",
                            META)
    assert "Виписка з рахунку" in html
    assert "&lt;script&gt;x&lt;/script&gt; &amp; &#34;co&#34;" in html
    assert "<script>x" not in html
    assert 'lang="uk"' in html


def test_missing_field_names_template_and_line(tmp_path: Path) -> None:
    templates_dir, assets = copy_project(tmp_path)
    page = templates_dir / "statement" / "document.html"
    page.write_text(page.read_text(encoding="utf-8").replace(
        "{{ record.customer_id }}", "{{ record.customer_number }}"), encoding="utf-8")
    templates = load(templates_dir, assets)
    with pytest.raises(TemplateError) as caught:
        templates.render("document.html", record(), "en", META)
    message = str(caught.value)
    assert "document.html:" in message and "customer_number" in message


def test_sandbox_refuses_python_internals(tmp_path: Path) -> None:
    templates_dir, assets = copy_project(tmp_path)
    (templates_dir / "statement" / "evil.html").write_text(
        "{{ record.__class__.__mro__[1].__subclasses__() }}", encoding="utf-8")
    templates = load(templates_dir, assets)
    with pytest.raises(TemplateError, match=r"evil\.html"):
        templates.render("evil.html", record(), "en", META)


def test_template_cannot_include_files_outside_its_folders(tmp_path: Path) -> None:
    templates_dir, assets = copy_project(tmp_path)
    (templates_dir / "statement" / "evil.html").write_text(
        '{% include "../../../../etc/passwd" %}', encoding="utf-8")
    templates = load(templates_dir, assets)
    with pytest.raises(TemplateError, match="not found"):
        templates.render("evil.html", record(), "en", META)


def test_version_is_a_content_hash_of_every_file(tmp_path: Path) -> None:
    templates_dir, assets = copy_project(tmp_path)
    first = TemplateSet.load(templates_dir, assets, "statement", "northwind")
    assert first.version == TemplateSet.load(templates_dir, assets, "statement",
                                             "northwind").version
    names = [name for name, _ in first.files()]
    assert "templates/statement/document.html" in names
    assert "templates/_shared/base.html" in names
    assert "assets/northwind/fonts/NotoSans-Regular.ttf" in names
    assert "templates/statement/i18n/cs.po" in names
    snapshot = first.snapshot()
    assert snapshot == first.snapshot()
    (assets / "northwind" / "brand.toml").write_text(
        (assets / "northwind" / "brand.toml").read_text(encoding="utf-8").replace(
            "#0b3d91", "#0b3d92"), encoding="utf-8")
    assert TemplateSet.load(templates_dir, assets, "statement", "northwind").version != \
        first.version


def test_brand_errors_name_the_file_and_field(tmp_path: Path) -> None:
    _, assets = copy_project(tmp_path)
    path = assets / "northwind" / "brand.toml"
    path.write_text(path.read_text(encoding="utf-8").replace('primary = "#0b3d91"',
                                                             'primary = "blue"')
                    .replace('logo = "logo.svg"', 'logo = "../../etc/passwd"'),
                    encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_brand(assets / "northwind")
    text = str(caught.value)
    assert "brand.toml" in text
    assert "colours.primary: expected a hex colour" in text
    assert "logo: '../../etc/passwd' is outside the brand folder" in text


def test_missing_translation_is_reported(tmp_path: Path) -> None:
    templates_dir, assets = copy_project(tmp_path)
    po = templates_dir / "statement" / "i18n" / "bg.po"
    po.write_text(po.read_text(encoding="utf-8").replace('msgstr "Крайно салдо"', 'msgstr ""'),
                  encoding="utf-8")
    problems = load(templates_dir, assets).catalogs.missing("bg")
    assert len(problems) == 1
    assert "bg.po: no translation for 'Closing balance'" in problems[0]
    assert "document.html:" in problems[0]
