"""Reissue one record from its document's web page, over real HTTP against a real
``docfactory serve`` with a real archive: the operations role renders the archived record
again for the document's period through the on-demand path (a new revision, the old one
superseded with the reason and the actor, audited); compliance sees no form and is refused;
an empty reason, an invoice, a document on legal hold and a job file that is gone are refused
with their reason on the page."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import httpx
import pytest

from factory.archive import Slot
from factory.executors import InlineExecutor
from factory.jobs import load_job
from factory.runner import RunOptions, run_job
from tests.api.test_api import login_token
from tests.archive_fixtures import Built, Server, copy_archive, make_keys, start_server
from tests.invoicing.test_invoices import base, invoice_job, line, write_invoices

if TYPE_CHECKING:
    from factory.models import ArchiveEntry

Site = tuple[Built, Server, dict[str, str]]
REASON = "customer lost the letter, ticket 4711"


@pytest.fixture(scope="module")
def site(golden_archive: Built, tmp_path_factory: pytest.TempPathFactory
         ) -> Iterator[Site]:
    built = copy_archive(golden_archive, tmp_path_factory.mktemp("reissue") / "project")
    # A numbered job (an [invoice] series): its documents carry issued invoice numbers.
    data = write_invoices(built.var / "invoices.jsonl",
                          [base("I000001", lines=[line("2", "100.00")])])
    job = load_job(invoice_job(built.jobs, data))
    report = run_job(job, built.settings, RunOptions(period="2026-11"), InlineExecutor())
    assert report.counts.archived == 1, report.as_dict()
    server = start_server(built, env={"FACTORY_API_AUTH_FAILURES": "100000"})
    try:
        yield built, server, make_keys(built)
    finally:
        assert server.stop() == 0, "\n".join(server.lines[-20:])


@contextmanager
def browser(server: Server, key: str) -> Iterator[httpx.Client]:
    """A client logged in through the login form (its session cookie kept)."""
    with httpx.Client(base_url=server.url, timeout=120) as client:
        response = client.post("/login", data={"key": key, "csrf": login_token(client)})
        assert response.status_code == 303, response.text
        yield client


def form_csrf(page: str) -> str:
    return page.split('name="csrf" value="', 1)[1].split('"', 1)[0]


def pdf_entry(built: Built, job: str, period: str, n: int = 0) -> ArchiveEntry:
    return [e for e in built.entries(job=job, period=period) if e.channel == "pdf"][n]


def post_reissue(client: httpx.Client, document_id: str, reason: str) -> httpx.Response:
    page = client.get(f"/documents/{document_id}")
    assert page.status_code == 200, page.text
    return client.post(f"/documents/{document_id}/reissue",
                       data={"csrf": form_csrf(page.text), "reason": reason})


def test_operations_reissues_a_statement_as_a_new_revision(site: Site) -> None:
    built, server, keys = site
    old = pdf_entry(built, "monthly_statements", "2026-10")
    with browser(server, keys["operations"]) as ops:
        page = ops.get(f"/documents/{old.document_id}")
        assert page.status_code == 200, page.text
        assert 'id="reissue-button"' in page.text and 'id="verify-button"' not in page.text
        answer = post_reissue(ops, old.document_id, REASON)
        assert answer.status_code == 303, answer.text
        location = answer.headers["location"]
        assert location.startswith("/documents/")
        new_id = location.removeprefix("/documents/")
        assert new_id != old.document_id
        shown = ops.get(location)
        assert shown.status_code == 200, shown.text
        assert 'data-revision="1"' in shown.text and 'data-revision="2"' in shown.text
        assert REASON in shown.text
    index = built.index()
    try:
        revisions = index.documents.revisions(Slot(old.job, old.period, old.record_key, "pdf",
                                                   old.document_type))
        audit = [a for a in index.audit.entries() if a.action == "document.reissue"]
    finally:
        index.close()
    assert [(r.revision, r.current) for r in revisions] == [(1, False), (2, True)]
    first, second = revisions
    assert first.document_id == old.document_id and second.document_id == new_id
    assert first.superseded_at is not None and first.supersede_reason == REASON
    assert second.period == old.period and second.customer_id == old.customer_id
    assert first.sha256 == old.sha256  # the old bytes are untouched
    ok = [a for a in audit if a.document_id == new_id]
    assert len(ok) == 1 and ok[0].outcome == "ok" and ok[0].role == "operations"
    assert REASON in ok[0].details and old.document_id in ok[0].details
    assert first.superseded_actor == ok[0].actor  # the operator's key, in both places
    with httpx.Client(base_url=server.url, timeout=60) as client:
        kept = client.get(f"/api/documents/{old.document_id}/content",
                          headers={"Authorization": f"Bearer {keys['compliance']}"})
    assert kept.status_code == 200 and kept.headers["x-content-sha256"] == old.sha256


def test_compliance_sees_no_form_and_may_not_reissue(site: Site) -> None:
    built, server, keys = site
    entry = pdf_entry(built, "monthly_statements", "2026-11")
    with browser(server, keys["compliance"]) as compliance:
        page = compliance.get(f"/documents/{entry.document_id}")
        assert page.status_code == 200
        assert "/reissue" not in page.text and 'id="verify-button"' in page.text
        refused = compliance.post(f"/documents/{entry.document_id}/reissue",
                                  data={"csrf": form_csrf(page.text), "reason": REASON})
        assert refused.status_code == 403, refused.text
    with browser(server, keys["operations"]) as ops:  # and a forged form is refused
        forged = ops.post(f"/documents/{entry.document_id}/reissue",
                          data={"csrf": "forged", "reason": REASON})
        assert forged.status_code == 403
    assert len(built.entries(job="monthly_statements", period="2026-11",
                             record_key=entry.record_key, channel="pdf")) == 1


def test_refusals_are_shown_on_the_page(site: Site) -> None:
    built, server, keys = site
    statement = pdf_entry(built, "monthly_statements", "2026-11", 1)
    invoice = pdf_entry(built, "invoice_run", "2026-11")
    with browser(server, keys["operations"]) as ops:
        empty = post_reissue(ops, statement.document_id, "   ")
        assert empty.status_code == 400
        assert "say why the document is reissued" in empty.text
        assert 'id="reissue-button"' in empty.text and "Traceback" not in empty.text
        numbered = post_reissue(ops, invoice.document_id, REASON)
        assert numbered.status_code == 400
        assert "issued invoice numbers, which are never rendered again" in numbered.text
        with browser(server, keys["compliance"]) as compliance:
            page = compliance.get(f"/documents/{statement.document_id}")
            held = compliance.post(f"/documents/{statement.document_id}/hold",
                                   data={"csrf": form_csrf(page.text), "reason": "court"})
            assert held.status_code == 303
        on_hold = post_reissue(ops, statement.document_id, REASON)
        assert on_hold.status_code == 409, on_hold.text
        assert "is on legal hold" in on_hold.text
        job_file = built.jobs / "invoice_run.toml"
        job_file.rename(built.root / "invoice_run.toml.gone")
        gone = post_reissue(ops, invoice.document_id, REASON)
        assert gone.status_code == 404
        assert "is no longer in the jobs folder" in gone.text
    for entry in (statement, invoice):  # nothing was rendered
        assert len(built.entries(job=entry.job, period=entry.period,
                                 record_key=entry.record_key, channel="pdf")) == 1
    index = built.index()
    try:
        refused = [a for a in index.audit.entries()
                   if a.action == "document.reissue" and a.outcome == "refused"]
    finally:
        index.close()
    assert len(refused) == 4
