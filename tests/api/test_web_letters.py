"""Interactive letters over real HTTP against a real ``docfactory serve`` and a real archive
(WeasyPrint renders, pypdf reads back): an agent opens a letter for a customer, previews the
real pages, submits; the author cannot approve it; a second agent approves and it is archived
(the snapshot keeps the sanitised blocks, the author and the reviewer) and sent; a reject needs
a reason and sends nothing. Compliance may not write or approve; every form needs the
session's CSRF token; an over-long block is 422 naming the block; a preview is readable only by
the key that asked for it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

from factory.archive.tables import letters  # noqa: F401 (the table the tests read through)
from factory.templates.blocks import LETTER_KEY
from tests.api.letters_site import JOB, LetterSite, start_letter_site
from tests.api.test_api import login_token
from tests.archive_fixtures import Built

ANSWER = ("We looked into it.\n\n<b>Your fee will be refunded</b> in full."
          "<script>alert('stolen')</script><img src=x onerror=alert(1)>")
REMEDY = "<ul><li>refund of CZK 250</li><li>a <i>letter</i> of apology</li></ul>"


@pytest.fixture(scope="module")
def site(golden_archive: Built, tmp_path_factory: pytest.TempPathFactory
         ) -> Iterator[LetterSite]:
    found = start_letter_site(golden_archive, tmp_path_factory.mktemp("letters") / "project")
    try:
        yield found
    finally:
        assert found.server.stop() == 0, "\n".join(found.server.lines[-20:])


@contextmanager
def browser(site: LetterSite, role: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=site.url, timeout=180) as client:
        response = client.post("/login", data={"key": site.keys[role],
                                               "csrf": login_token(client)})
        assert response.status_code == 303, response.text
        yield client


def csrf_of(page: str) -> str:
    return page.split('name="csrf" value="', 1)[1].split('"', 1)[0]


def form(client: httpx.Client, customer: str = "C000001") -> tuple[str, dict[str, object]]:
    page = client.get("/letters/new", params={"job": JOB, "customer": customer})
    assert page.status_code == 200, page.text
    return page.text, {"csrf": csrf_of(page.text), "job": JOB, "customer": customer,
                       "block_name": ["answer", "remedy"], "block_text": [ANSWER, REMEDY]}


def submit(client: httpx.Client, **changes: object) -> httpx.Response:
    _page, data = form(client)
    return client.post("/letters/new", data={**data, "action": "submit", **changes})


def test_agent_writes_previews_and_a_second_agent_approves(site: LetterSite) -> None:
    with browser(site, "agent") as agent:
        page, data = form(agent)
        assert 'id="block-answer"' in page and 'maxlength="4000"' in page
        assert 'data-field="customer_id">C000001<' in page  # the record's data is shown
        assert 'id="four-eyes"' in page
        preview = agent.post("/letters/new", data={**data, "action": "preview"})
        assert preview.status_code == 200, preview.text
        image = preview.text.split('class="preview" src="', 1)[1].split('"', 1)[0]
        png = agent.get(image)
        assert png.status_code == 200 and png.content.startswith(b"\x89PNG\r\n\x1a\n")
        assert "stolen" in preview.text  # what was typed stays in the form, escaped
        assert "<script>alert" not in preview.text
        with browser(site, "agent2") as other:  # a preview belongs to the key that asked
            assert other.get(image).status_code == 404
        answer = agent.post("/letters/new", data={**data, "action": "submit"})
        assert answer.status_code == 303, answer.text
        letter_id = answer.headers["location"].removeprefix("/letters/")
        assert site.letter(letter_id).status == "pending"
        assert site.audit("letter.send") == [] or all(
            letter_id not in e.details for e in site.audit("letter.send"))
        mine = agent.get(f"/letters/{letter_id}")
        assert 'id="waiting"' in mine.text and 'id="approve-button"' not in mine.text
        own = agent.post(f"/letters/{letter_id}/approve", data={"csrf": data["csrf"]})
        assert own.status_code == 403 and "second" in own.text
        assert site.letter(letter_id).status == "pending"
    with browser(site, "agent2") as second:
        queue = second.get("/letters")
        assert f'data-letter="{letter_id}"' in queue.text.split('id="recent"')[0]
        page = second.get(f"/letters/{letter_id}")
        assert 'id="approve-button"' in page.text and 'class="preview"' in page.text
        approved = second.post(f"/letters/{letter_id}/approve",
                               data={"csrf": csrf_of(page.text)})
        assert approved.status_code == 303, approved.text
        shown = second.get(f"/letters/{letter_id}")
        assert 'data-status="sent"' in shown.text, shown.text
        again = second.post(f"/letters/{letter_id}/approve", data={"csrf": csrf_of(page.text)})
        assert again.status_code == 409
    row = site.letter(letter_id)
    assert row.status == "sent" and row.document_id and row.reviewer != row.author
    entry = site.document(row.document_id)
    assert entry.job == JOB and entry.customer_id == "C000001" and entry.channel == "pdf"
    snapshot = site.snapshot(entry)
    letter = snapshot["record"][LETTER_KEY]
    assert letter["letter_id"] == letter_id and letter["author"] == row.author
    assert letter["reviewer"] == row.reviewer
    assert letter["blocks"]["answer"] == ("<p>We looked into it.</p><p><b>Your fee will be"
                                          " refunded</b> in full.</p>")
    # "remedy" allows paragraphs, bold and lists only: its italics went, their text stayed.
    assert letter["blocks"]["remedy"] == REMEDY.replace("<i>", "").replace("</i>", "")
    runs = site.pdf_runs(entry)
    text = "".join(t for t, _font in runs)
    assert "Your fee will be refunded" in text and "refund of CZK 250" in text
    assert "alert" not in text and "stolen" not in text and "script" not in text
    bold = [font for t, font in runs if "refunded" in t]
    assert bold and all("Bold" in font for font in bold), runs
    sends = [e for e in site.audit("letter.send") if letter_id in e.details]
    assert len(sends) == 1 and sends[0].outcome == "ok"
    assert sends[0].document_id == row.document_id
    submits = [e for e in site.audit("letter.submit") if letter_id in e.details]
    approves = [e for e in site.audit("letter.approve") if letter_id in e.details]
    assert len(submits) == 1 and submits[0].actor == row.author and submits[0].role == "agent"
    assert len(approves) == 1 and approves[0].actor == row.reviewer


def test_a_rejected_letter_needs_a_reason_and_is_not_sent(site: LetterSite) -> None:
    with browser(site, "agent2") as agent:
        answer = submit(agent)
        assert answer.status_code == 303, answer.text
        letter_id = answer.headers["location"].removeprefix("/letters/")
    with browser(site, "operations") as supervisor:  # letters:approve, not letters:write
        assert supervisor.get("/letters/new").status_code == 403
        page = supervisor.get(f"/letters/{letter_id}")
        assert page.status_code == 200 and 'id="reject-button"' in page.text
        empty = supervisor.post(f"/letters/{letter_id}/reject",
                                data={"csrf": csrf_of(page.text), "reason": "  "})
        assert empty.status_code == 422 and "say why" in empty.text
        done = supervisor.post(f"/letters/{letter_id}/reject",
                               data={"csrf": csrf_of(page.text), "reason": "wrong customer"})
        assert done.status_code == 303
    row = site.letter(letter_id)
    assert (row.status, row.review_reason, row.document_id) == ("rejected", "wrong customer",
                                                                None)
    rejects = [e for e in site.audit("letter.reject") if letter_id in e.details]
    assert len(rejects) == 1 and rejects[0].role == "operations"
    assert "wrong customer" in rejects[0].details


def test_compliance_may_neither_write_nor_approve(site: LetterSite) -> None:
    with browser(site, "agent") as agent:
        letter_id = submit(agent).headers["location"].removeprefix("/letters/")
    with browser(site, "compliance") as compliance:
        home = compliance.get("/")
        assert 'id="nav-letters"' not in home.text and "/letters/new" not in home.text
        for path in ("/letters/new", "/letters", f"/letters/{letter_id}"):
            assert compliance.get(path).status_code == 403, path
        token = csrf_of(compliance.get("/archive", params={"customer": "C000001"}).text)
        refused = compliance.post(f"/letters/{letter_id}/approve", data={"csrf": token})
        assert refused.status_code == 403
    assert site.letter(letter_id).status == "pending"
    denied = [e for e in site.audit("access.denied") if "letters:" in e.details]
    assert denied, "the refusals are audited"


def test_forms_need_a_session_and_its_csrf_token(site: LetterSite) -> None:
    with httpx.Client(base_url=site.url, timeout=60) as anonymous:
        page = anonymous.get("/letters/new")
        assert page.status_code == 401 and 'id="key"' in page.text  # the login page
        assert anonymous.post("/letters/new", data={"job": JOB}).status_code == 401
    with browser(site, "agent") as agent:
        _page, data = form(agent)
        forged = agent.post("/letters/new", data={**data, "csrf": "x", "action": "submit"})
        assert forged.status_code == 403 and "stale" in forged.text
        letter_id = submit(agent).headers["location"].removeprefix("/letters/")
    with browser(site, "agent2") as second:
        assert second.post(f"/letters/{letter_id}/approve", data={}).status_code == 403
    assert site.letter(letter_id).status == "pending"


def test_bad_blocks_and_records_are_named(site: LetterSite) -> None:
    with browser(site, "agent") as agent:
        long = submit(agent, block_text=["x" * 4001, REMEDY])
        assert long.status_code == 422
        assert "block &#39;answer&#39; (Our answer) is 4,001 characters long" in long.text
        assert "at most 4,000" in long.text
        empty = submit(agent, block_text=["<script>x()</script>", REMEDY])
        assert empty.status_code == 422 and "is empty" in empty.text
        page = agent.get("/letters/new", params={"job": JOB, "customer": "C999999"})
        assert page.status_code == 404 and "no record with customer_id" in page.text
        data = {"csrf": csrf_of(page.text), "job": JOB, "block_name": ["answer", "remedy"],
                "block_text": ["ok", "ok"], "action": "preview"}
        bad = agent.post("/letters/new", data={**data, "record_json": '{"customer_id": "X1"}'})
        assert bad.status_code == 422 and "customer_id" in bad.text
        posted = agent.post("/letters/new", data={**data, "record_json": "{not json"})
        assert posted.status_code == 422 and "not valid JSON" in posted.text
    submitted = [e for e in site.audit("letter.submit") if "4001" in e.details]
    assert submitted == []  # nothing was stored


def test_a_letter_job_is_refused_on_the_json_on_demand_path(site: LetterSite) -> None:
    record = site.letter_record("C000001")
    with httpx.Client(base_url=site.url, timeout=60) as client:
        answer = client.post("/api/documents", json={"job": JOB, "record": record},
                             headers={"Authorization": f"Bearer {site.keys['service']}"})
    assert answer.status_code == 400, answer.text
    assert "writes interactive letters" in answer.json()["detail"]
    assert not [e for e in site.built.entries(job=JOB) if e.customer_id == "C000001"
                and e.record_key == "C000001"]
