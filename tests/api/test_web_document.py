"""A sealed document's page in a real headless Chromium against a real ``docfactory serve``:
page previews rendered on the server, seal and timestamp status, revisions, the audit trail,
and "verify now" (recorded in the audit log); the same check over the JSON API."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import sync_playwright

from tests.api.test_web import ARGS, CHROMIUM, log_in
from tests.archive_fixtures import Built, make_keys, start_server
from tests.sealkit import build_sealed_project, serve_pki


@pytest.fixture(scope="module")
def sealed_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple]:
    with serve_pki(tmp_path_factory.mktemp("pki")) as pki:
        root = build_sealed_project(tmp_path_factory.mktemp("site") / "project", pki)
        built = Built(root)
        server = start_server(built, env={"FACTORY_SEAL_TRUST": str(pki.root_pem)})
        try:
            yield built, server, make_keys(built)
        finally:
            assert server.stop() == 0, "\n".join(server.lines[-20:])


def test_the_document_page_shows_pages_seal_revisions_trail_and_verifies(
        sealed_site: tuple, tmp_path: Path) -> None:
    built, server, keys = sealed_site
    entry = built.entries(job="monthly_statements")[0]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page()
            page.set_default_timeout(30_000)
            log_in(page, server.url, keys["compliance"])
            page.goto(f"{server.url}/documents/{entry.document_id}")
            assert page.locator("#seal-state").inner_text() == "Seal intact"
            assert page.locator("#seal-profile").inner_text() == "PAdES B-T"
            assert "Docfactory Test Bank e-seal" in page.locator("#seal-signer").inner_text()
            assert "Docfactory Test TSA" in page.locator("#seal-timestamp").inner_text()
            assert "chains to a trust anchor" in page.locator("main").inner_text()
            images = page.locator("#pages img")
            assert images.count() == entry.page_count
            page.wait_for_function(
                "() => [...document.querySelectorAll('#pages img')].every("
                "i => i.complete && i.naturalWidth > 100)")
            page.screenshot(path=str(tmp_path / "document.png"), full_page=True)
            rows = page.locator("#revisions tr[data-revision]")
            assert rows.count() == 1 and "current" in rows.first.inner_text()
            assert page.locator("#last-verified").inner_text().startswith("Never verified")
            page.click("#verify-button")
            page.wait_for_selector("#last-verified strong")
            assert "ok" in page.locator("#last-verified").inner_text()
            actions = page.locator("#audit tr[data-action]").evaluate_all(
                "rows => rows.map(r => r.dataset.action)")
            assert "archive.verify" in actions
            assert actions.count("archive.preview") == entry.page_count
            browser.close()
        finally:
            if browser.is_connected():
                browser.close()
    # the same check over the JSON API, audited too
    response = httpx.post(f"{server.url}/api/documents/{entry.document_id}/verify",
                          headers={"Authorization": f"Bearer {keys['compliance']}"}, timeout=60)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["ok"] is True and body["intact"] is True
    assert body["seal"]["profile"] == "B-T" and body["seal"]["trusted"] is True
    denied = httpx.post(f"{server.url}/api/documents/{entry.document_id}/verify",
                        headers={"Authorization": f"Bearer {keys['operations']}"}, timeout=60)
    assert denied.status_code == 403
