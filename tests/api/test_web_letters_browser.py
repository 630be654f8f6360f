"""An interactive letter written in a real headless Chromium (Debian's /usr/bin/chromium by
Playwright) against a real ``docfactory serve``: an agent opens the New letter page, types a
block with a <script> and bold text, sees the preview's page image, submits; a second agent
approves it from the queue; the archived PDF (read back with pdftotext and pypdf) has the bold
text, in a bold font, and not the script. No script ever runs in the pages."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Page

from tests.api.letters_site import LetterSite, start_letter_site
from tests.api.test_web import browser, log_in  # noqa: F401 (browser: the module's Chromium)
from tests.archive_fixtures import Built

SCRIPT = "<script>alert('from the letter')</script>"


@pytest.fixture(scope="module")
def site(golden_archive: Built, tmp_path_factory: pytest.TempPathFactory
         ) -> Iterator[LetterSite]:
    found = start_letter_site(golden_archive, tmp_path_factory.mktemp("chromium") / "project")
    try:
        yield found
    finally:
        assert found.server.stop() == 0, "\n".join(found.server.lines[-20:])


@pytest.fixture
def pages(browser: Browser) -> Iterator[Any]:  # noqa: F811 (the fixture imported above)
    contexts: list[Any] = []
    dialogs: list[str] = []

    def new_page() -> Page:
        context = browser.new_context()
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(60_000)
        page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        return page

    try:
        yield new_page
    finally:
        for context in contexts:
            context.close()
        assert dialogs == [], f"a script ran in the page: {dialogs}"


def test_an_agent_writes_a_letter_and_a_second_agent_approves_it(site: LetterSite,
                                                                 pages: Any) -> None:
    url = site.url
    author = pages()
    log_in(author, url, site.keys["agent"])
    assert author.locator("#role").inner_text() == "agent"
    author.click("#nav-new-letter")
    author.fill("#customer", "C000002")
    author.click("#open-button")
    assert author.locator('#record dd[data-field="customer_id"]').inner_text() == "C000002"
    author.fill("#block-answer", f"We checked your account.\n\n<b>Refund approved</b> today."
                                 f"{SCRIPT}")
    author.fill("#block-remedy", "<ul><li>We return the fee.</li></ul>")
    author.click("#preview-button")
    image = author.locator("img.preview").first
    image.wait_for()
    assert author.evaluate("(img) => img.complete && img.naturalWidth > 300",
                           image.element_handle())
    assert author.locator("#block-answer").input_value().endswith(SCRIPT)  # kept as typed
    author.click("#submit-button")
    author.wait_for_url(re.compile(rf"{re.escape(url)}/letters/[0-9a-f]{{32}}$"))
    letter_id = author.url.rsplit("/", 1)[1]
    assert author.locator("#letter-status").get_attribute("data-status") == "pending"
    assert author.locator("#waiting").count() == 1
    assert author.locator("#approve-button").count() == 0
    assert "Refund approved" in author.locator("b").all_inner_texts()

    reviewer = pages()
    log_in(reviewer, url, site.keys["agent2"])
    reviewer.click("#nav-letters")
    reviewer.click(f'#queue tr[data-letter="{letter_id}"] a')
    reviewer.wait_for_url(f"{url}/letters/{letter_id}")
    reviewer.locator("img.preview").first.wait_for()
    reviewer.click("#approve-button")
    reviewer.wait_for_url(f"{url}/letters/{letter_id}")
    assert reviewer.locator("#letter-status").get_attribute("data-status") == "sent"
    document_id = reviewer.locator("#document-id").inner_text().strip()

    row = site.letter(letter_id)
    assert row.document_id == document_id and row.author != row.reviewer
    entry = site.document(document_id)
    pdf = site.built.store().get(entry.storage_key)
    pdftotext = shutil.which("pdftotext")
    assert pdftotext, "pdftotext (poppler-utils) is needed: scripts/system-deps.sh"
    text = subprocess.run([pdftotext, "-layout", "-", "-"], input=pdf, capture_output=True,
                          check=True).stdout.decode("utf-8")
    assert "Refund approved" in text and "We return the fee." in text
    assert "alert" not in text and "script" not in text.lower()
    bold = [font for run, font in site.pdf_runs(entry) if "Refund approved" in run]
    assert bold and all("Bold" in font for font in bold)
