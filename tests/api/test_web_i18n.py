"""The web pages in every language, in a real headless Chromium (Debian's /usr/bin/chromium,
Playwright) against a real ``docfactory serve``: the browser's language (Accept-Language)
chooses cs, sk, uk, bg or en, a switch changes it and is remembered, dates and numbers are
formatted for the language, and every text of the pages is translated in every catalogue."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest
from babel.dates import format_datetime
from babel.messages.extract import extract_from_file
from babel.numbers import format_decimal
from playwright.sync_api import Browser, Page, sync_playwright

from factory.api import i18n
from tests.api.test_web import ARGS, CHROMIUM
from tests.archive_fixtures import Server, copy_archive, make_keys, start_server

if TYPE_CHECKING:
    from tests.archive_fixtures import Built

#: browser locale -> (page language, the archive page's heading, "Log in", "Search")
BROWSERS = {
    "cs-CZ": ("cs", "Archiv", "Přihlásit", "Hledat"),
    "sk-SK": ("sk", "Archív", "Prihlásiť", "Hľadať"),
    "uk-UA": ("uk", "Архів", "Увійти", "Шукати"),
    "bg-BG": ("bg", "Архив", "Вход", "Търсене"),
    "en-GB": ("en", "Archive", "Log in", "Search"),
}
#: "2 documents" with each language's plural form
TWO_DOCUMENTS = {"cs": "2 dokumenty", "sk": "2 dokumenty", "uk": "2 документи",
                 "bg": "2 документа", "en": "2 documents"}


@pytest.fixture(scope="module")
def web(golden_archive: Built, tmp_path_factory: pytest.TempPathFactory
        ) -> Iterator[tuple[Built, Server, dict[str, str]]]:
    built = copy_archive(golden_archive, tmp_path_factory.mktemp("web-i18n") / "project")
    server = start_server(built)
    try:
        yield built, server, make_keys(built)
    finally:
        assert server.stop() == 0, "\n".join(server.lines[-20:])


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield browser
        finally:
            browser.close()


def page_in(browser: Browser, locale: str) -> Page:
    context = browser.new_context(locale=locale)
    page = context.new_page()
    page.set_default_timeout(30_000)
    return page


@pytest.mark.parametrize("browser_locale", sorted(BROWSERS))
def test_the_pages_speak_the_browsers_language(web: Any, browser: Browser,
                                               browser_locale: str) -> None:
    built, server, keys = web
    lang, archive, log_in, search = BROWSERS[browser_locale]
    page = page_in(browser, browser_locale)
    try:
        page.goto(f"{server.url}/login")
        assert page.locator("h1").inner_text() == log_in
        assert page.locator("html").get_attribute("lang").startswith(lang)
        page.fill("#key", keys["compliance"])
        page.click("#login")
        page.wait_for_url(f"{server.url}/")
        page.click("#nav-archive")
        assert page.locator("h1").inner_text() == archive
        assert page.locator("#search-button").inner_text() == search
        entry = built.entries(job="monthly_statements", period="2026-11")[0]
        page.fill("#customer", entry.customer_id)
        page.fill("#from", "2026-11-01")  # date inputs
        page.fill("#to", "2026-11-30")
        page.click("#search-button")
        page.wait_for_selector("#results")
        assert page.locator("#count").inner_text() == TWO_DOCUMENTS[lang]
        row = page.locator(f"tr[data-document='{entry.document_id}']").inner_text()
        fmt = i18n.FORMAT[lang]
        assert format_decimal(entry.byte_size, locale=fmt) in row       # 123 456 / 123,456
        assert format_datetime(entry.created_at, "medium", tzinfo=i18n.UTC,
                               locale=fmt) in row
        if lang != "en":
            english = {"Customer", "Channel", "Download", "Created", "Log out", "Archive"}
            assert not english & set(page.locator("body").inner_text().split())
    finally:
        page.context.close()


def test_the_language_can_be_switched_and_is_remembered(web: Any, browser: Browser) -> None:
    _built, server, keys = web
    page = page_in(browser, "cs-CZ")
    try:
        page.goto(f"{server.url}/login")
        page.fill("#key", keys["finance"])
        page.click("#login")
        page.wait_for_url(f"{server.url}/")
        page.click("#nav-runs")
        assert page.locator("h1").inner_text() == "Běhy"
        page.click("#lang-uk")
        assert page.locator("h1").inner_text() == "Запуски"
        assert page.locator("html").get_attribute("lang") == "uk"
        page.click("#nav-start")  # a new page: the choice is remembered over cs-CZ
        assert page.locator("h1").inner_text() == "Запустити обробку"
        page.click("#lang-en")
        assert page.locator("h1").inner_text() == "Start a run"
        assert page.locator("html").get_attribute("lang") == "en-GB"
    finally:
        page.context.close()


@pytest.mark.parametrize("header", [
    ("cs-CZ,cs;q=0.9,en;q=0.8", "cs"), ("en-US,en;q=0.9", "en"), ("de-DE,sk;q=0.5", "sk"),
    ("uk", "uk"), ("bg;q=0.2, cs;q=0.8", "cs"), ("fr-FR", "en"), ("", "en"),
    ("cs;q=0, uk;q=0.1", "uk"), ("*", "en"),
])
def test_accept_language_is_read_with_its_q_values(header: tuple[str, str]) -> None:
    value, expected = header
    assert i18n.choose(None, None, value) == expected
    assert i18n.choose("bg", None, value) == "bg"          # an explicit switch wins
    assert i18n.choose(None, "sk", value) == "sk"          # then the remembered one
    assert i18n.choose("xx", None, value) == expected      # an unknown one is ignored


@pytest.mark.parametrize("locale", [code for code in i18n.LOCALES if code != "en"])
def test_every_text_of_the_pages_is_translated(locale: str) -> None:
    used = set()
    for path in sorted(i18n.Path(__file__).resolve().parents[2].joinpath(
            "factory", "api", "templates").glob("*.html")):
        for _line, message, _c, _ctx in extract_from_file(
                "jinja2", str(path), options={"extensions": "jinja2.ext.i18n",
                                              "trimmed": "true"}):
            used.update(m for m in (message if isinstance(message, tuple) else (message,))
                        if m)
    used.update(i18n.STATUSES.values())
    used.update(i18n.COUNTS.values())
    used.add("That key is not valid (or has been revoked).")
    catalog = i18n.translations(locale)
    same_word = {"cs": {"Limit", "role"}, "sk": {"Limit"}}.get(locale, set())
    used.discard("%(num)s documents")  # the plural, checked below
    missing = sorted(m for m in used if catalog.gettext(m) == m and m not in same_word)
    assert missing == [], f"{locale}: untranslated {missing}"
    assert catalog.ngettext("%(num)s document", "%(num)s documents", 5) != "%(num)s documents"
