"""The web pages in a real headless Chromium (Debian's /usr/bin/chromium driven by Playwright)
against a real ``docfactory serve``: log in with a key, search a customer, download a PDF and
compare its checksum, place a legal hold, start a run as finance, be refused as compliance."""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.archive_fixtures import Server, copy_archive, make_keys, start_server

if TYPE_CHECKING:
    from tests.archive_fixtures import Built

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@pytest.fixture(scope="module")
def web(golden_archive: Built, tmp_path_factory: pytest.TempPathFactory
        ) -> Iterator[tuple[Built, Server, dict[str, str]]]:
    built = copy_archive(golden_archive, tmp_path_factory.mktemp("web") / "project")
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


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(30_000)
    dialogs: list[Any] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    try:
        yield page
    finally:
        assert dialogs == [], f"a script ran in the page: {dialogs}"
        context.close()


def log_in(page: Page, url: str, key: str) -> None:
    page.goto(f"{url}/login")
    page.fill("#key", key)
    page.click("#login")
    page.wait_for_url(f"{url}/")


def test_compliance_searches_downloads_and_holds(web, page: Page) -> None:
    built, server, keys = web
    url = server.url
    response = page.goto(f"{url}/archive")
    assert response is not None and response.status == 401
    assert page.locator("h1").inner_text() == "Log in"
    page.fill("#key", keys["compliance"][:-1] + "x")
    page.click("#login")
    assert "That key is not valid" in page.locator(".message").inner_text()

    log_in(page, url, keys["compliance"])
    assert page.locator("#role").inner_text() == "compliance"
    assert page.locator("#nav-start").count() == 0
    page.click("#nav-archive")
    entry = built.entries(job="monthly_statements", period="2026-11")[0]
    page.fill("#customer", entry.customer_id)
    page.fill("#from", "2026-11-01")  # typed filters: dates are dates, types from a list
    page.fill("#to", "2026-11-30")
    assert page.locator("#type option").all_inner_texts() == ["any", "invoice", "statement"]
    assert page.locator("#channel option").all_inner_texts() == ["any", "pdf"]
    page.click("#search-button")
    page.wait_for_selector("#results")
    assert page.locator("#count").inner_text().startswith("2 documents")  # statement, invoice
    page.select_option("#type", "invoice")
    page.click("#search-button")
    page.wait_for_selector("#results")
    assert page.locator("#count").inner_text().startswith("1 document")
    assert page.locator("#type").input_value() == "invoice"
    assert page.locator("#from").input_value() == "2026-11-01"
    page.select_option("#type", "")
    page.click("#search-button")
    page.wait_for_selector("#results")
    row = page.locator(f"tr[data-document='{entry.document_id}']")
    with page.expect_download() as download_info:
        row.locator("a.download").click()
    download = download_info.value
    data = Path(download.path()).read_bytes()
    assert hashlib.sha256(data).hexdigest() == entry.sha256
    assert download.suggested_filename == f"{entry.document_id}.pdf"

    row.locator(f"a[href='/documents/{entry.document_id}']").click()
    assert page.locator("#sha256").inner_text() == entry.sha256
    assert page.locator("#hold-state").inner_text() == "Not on hold"
    page.fill("input[name=reason]", "case 2026-17")
    page.click("#hold-button")
    page.wait_for_selector("#hold-state.hold")
    assert page.locator("#hold-state").inner_text() == "On legal hold"

    # Refused: compliance may not start runs, by the page or by a forged form post.
    response = page.goto(f"{url}/runs/new")
    assert response is not None and response.status == 403
    assert "the compliance role may not start runs" in page.locator("#error").inner_text()
    posted = page.request.post(f"{url}/runs", form={"job": "monthly_invoices",
                                                    "period": "2026-12", "csrf": "x"})
    assert posted.status == 403

    # Markup in a search is shown as text, never run.
    page.goto(f"{url}/archive")
    page.fill("#customer", "<img src=x onerror=alert(1)>")
    page.click("#search-button")
    page.wait_for_selector("#count")
    assert page.locator("#customer").input_value() == "<img src=x onerror=alert(1)>"
    assert page.locator("#count").inner_text().startswith("0 documents")

    page.click("text=Log out")
    response = page.goto(f"{url}/archive")
    assert response is not None and response.status == 401


def test_finance_starts_a_run_and_reads_its_report(web, page: Page) -> None:
    _built, server, keys = web
    url = server.url
    log_in(page, url, keys["finance"])
    assert page.locator("#role").inner_text() == "finance"
    assert page.locator("#nav-archive").count() == 0
    response = page.goto(f"{url}/archive")
    assert response is not None and response.status == 403
    page.goto(f"{url}/")
    page.click("#nav-start")
    options = page.locator("#job option").all_inner_texts()
    assert options == ["monthly_invoices (invoice)"]
    page.fill("#period", "2026-09")
    page.fill("#limit", "2")
    page.click("#start-button")
    page.wait_for_url(re.compile(rf"{re.escape(url)}/runs/\d{{8}}T\d{{6}}Z-[0-9a-f]{{6}}$"))
    run_id = page.url.rsplit("/", 1)[1]
    deadline = time.monotonic() + 240
    status = ""
    while time.monotonic() < deadline:
        status = page.locator("#status").inner_text()
        if status not in ("starting", "running"):
            break
        time.sleep(1)
        page.reload()
    assert status == "completed"
    assert "input 2 = archived 2 + rejected 0 + failed 0 + skipped 0" in \
        page.locator("#reconciliation").inner_text()
    page.click("#nav-runs")
    assert run_id in page.locator("#runs").inner_text()
    assert "monthly_statements" not in page.locator("#runs").inner_text()
    response = page.goto(f"{url}/runs/new")
    assert response is not None and response.status == 200


def test_the_api_docs_page_works_with_no_internet(web, page: Page) -> None:
    """Swagger UI at /docs: its files come from the server itself (nothing from a CDN; every
    other host is refused here), it needs a session, and it lists the API's routes."""
    _built, server, keys = web
    url = server.url
    foreign: list[str] = []

    def only_local(route: Any) -> None:
        if route.request.url.startswith(url):
            route.continue_()
        else:
            foreign.append(route.request.url)
            route.abort()

    page.route("**/*", only_local)
    response = page.goto(f"{url}/docs")
    assert response is not None and response.status == 401
    log_in(page, url, keys["compliance"])
    response = page.goto(f"{url}/docs")
    assert response is not None and response.status == 200
    assert "script-src 'self'" in response.headers["content-security-policy"]
    title = page.locator(".swagger-ui .info .title")
    title.wait_for()
    assert title.inner_text().startswith("docfactory") and "OAS 3.1" in title.inner_text()
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert any(p.startswith("/api/documents") for p in paths), paths
    assert foreign == []
