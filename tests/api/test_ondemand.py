"""Documents on demand over real HTTP (``docfactory serve`` on loopback, httpx) and the CLI:
one record rendered by the batch pipeline, archived and indexed under the job's on-demand run
of the day; idempotency by key; the PDF in the answer; 422 naming the field; roles; a reissue
of an archived period as a new revision beside the old one."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from click.testing import CliRunner

from factory.archive import Slot
from factory.cli.app import cli, load_commands
from factory.samples.customers import generate
from tests.archive_fixtures import Server, copy_archive, make_keys, start_server
from tests.conftest import pdf_text

if TYPE_CHECKING:
    from tests.archive_fixtures import Built

load_commands()


def sample_records(built: Built) -> list[dict[str, Any]]:
    """The golden archive's customers (same seed) as JSON records, with their line items."""
    out = built.root / "records"
    generate(3, out, seed=11, period="2026-11", fmt="jsonl")
    lines = (out / "customers.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


class Site:
    def __init__(self, built: Built, server: Server, keys: dict[str, str]) -> None:
        self.built = built
        self.server = server
        self.keys = keys
        self.client = httpx.Client(base_url=server.url, timeout=120)
        self.records = sample_records(built)

    def post(self, body: dict[str, Any], role: str | None = "service",
             **headers: str) -> httpx.Response:
        sent = {k.replace("_", "-"): v for k, v in headers.items()}
        if role is not None:
            sent["Authorization"] = f"Bearer {self.keys[role]}"
        return self.client.post("/api/documents", json=body, headers=sent)

    def get(self, path: str, role: str = "compliance") -> httpx.Response:
        return self.client.get(path, headers={"Authorization": f"Bearer {self.keys[role]}"})


@pytest.fixture(scope="module")
def site(golden_archive: Built, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    built = copy_archive(golden_archive, tmp_path_factory.mktemp("ondemand") / "project")
    server = start_server(built, env={"FACTORY_API_AUTH_FAILURES": "100000"})
    site = Site(built, server, make_keys(built))
    try:
        yield site
    finally:
        site.client.close()
        assert server.stop() == 0, "\n".join(server.lines[-20:])


def test_a_record_becomes_an_archived_indexed_document(site: Site) -> None:
    record = site.records[0]
    answer = site.post({"job": "monthly_statements", "record": record},
                       Idempotency_Key="desk-1")
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["created"] is True and body["status"] == "archived"
    assert body["customer_id"] == record["customer_id"]
    assert body["record_key"].startswith(record["customer_id"] + ".k")
    doc_id = body["document_id"]
    assert body["content_url"] == f"/api/documents/{doc_id}/content"
    # Indexed like a batch document, under the job's on-demand run of the day.
    found = site.get(f"/api/documents/{doc_id}")
    assert found.status_code == 200, found.text
    entry = found.json()
    assert entry["customer_id"] == record["customer_id"]
    assert entry["run_id"] == body["run_id"] and entry["period"] == body["period"]
    run = site.get(f"/api/runs/{body['run_id']}", role="operations").json()
    assert run["executor"] == "ondemand" and run["status"] == "running"
    assert run["job"] == "monthly_statements" and run["period"] == body["period"]
    # The exact archived bytes: a real statement for this customer.
    content = site.get(body["content_url"])
    assert content.status_code == 200
    assert record["name"] in pdf_text(content.content)


def test_idempotency_key_gives_the_same_document_and_another_key_a_new_one(site: Site) -> None:
    body = {"job": "monthly_statements", "record": site.records[1]}
    first = site.post(body, Idempotency_Key="retry-me")
    again = site.post(body, Idempotency_Key="retry-me")
    other = site.post(body, Idempotency_Key="another")
    assert first.status_code == 201 and again.status_code == 200, again.text
    assert again.json()["document_id"] == first.json()["document_id"]
    assert again.json()["created"] is False
    assert other.status_code == 201
    assert other.json()["document_id"] != first.json()["document_id"]
    changed = site.post({**body, "record": dict(site.records[1], name="Someone Else")},
                        Idempotency_Key="retry-me")
    assert changed.status_code == 400, changed.text  # the same key for another record
    assert "already used for a different record" in changed.json()["detail"]
    index = site.built.index()
    try:
        slot = Slot("monthly_statements", first.json()["period"],
                    first.json()["record_key"], "pdf", "statement")
        assert len(index.documents.revisions(slot)) == 1  # the retry made no second revision
        run = index.runs.get(first.json()["run_id"])
    finally:
        index.close()
    assert run is not None


def test_accept_pdf_answers_with_the_pdf_itself(site: Site) -> None:
    record = site.records[2]
    answer = site.post({"job": "monthly_statements", "record": record},
                       Idempotency_Key="pdf-please", Accept="application/pdf")
    assert answer.status_code == 201, answer.text
    assert answer.headers["content-type"] == "application/pdf"
    assert answer.content.startswith(b"%PDF-")
    doc_id = answer.headers["x-document-id"]
    stored = site.get(f"/api/documents/{doc_id}/content")
    assert stored.content == answer.content
    assert record["name"] in pdf_text(answer.content)


def test_a_bad_record_is_422_naming_the_field_and_nothing_is_archived(site: Site) -> None:
    record = dict(site.records[0], customer_id="nope", currency="XXX")
    before = len(site.built.entries())
    answer = site.post({"job": "monthly_statements", "record": record})
    assert answer.status_code == 422, answer.text
    assert answer.json()["field"] == "customer_id"
    assert "customer_id" in answer.json()["detail"] and "currency" in answer.json()["detail"]
    missing = dict(site.records[0])
    del missing["account_iban"]
    answer = site.post({"job": "monthly_statements", "record": missing})
    assert answer.status_code == 422 and answer.json()["field"] == "account_iban"
    assert len(site.built.entries()) == before


def test_roles_and_unknown_jobs(site: Site) -> None:
    body = {"job": "monthly_statements", "record": site.records[0]}
    assert site.post(body, role=None).status_code == 401
    assert site.post(body, role="revoked").status_code == 401
    assert site.post(body, role="compliance").status_code == 403
    assert site.post(body, role="finance").status_code == 403  # not a finance job
    assert site.post({**body, "job": "no_such_job"}).status_code == 404
    assert site.post({**body, "job": "../etc"}).status_code in (400, 404)
    assert site.post({**body, "period": "2026-13"}).status_code == 400
    # operations may render too
    answer = site.post(body, role="operations", Idempotency_Key="ops")
    assert answer.status_code == 201, answer.text


def test_reissue_of_an_archived_period_is_a_new_revision_with_a_reason(site: Site) -> None:
    record = site.records[0]
    slot = Slot("monthly_statements", "2026-10", record["customer_id"], "pdf", "statement")
    index = site.built.index()
    try:
        old = index.documents.find(slot)
    finally:
        index.close()
    assert old is not None and old.revision == 1
    body = {"job": "monthly_statements", "record": record, "period": "2026-10"}
    same = site.post(body)
    assert same.status_code == 200 and same.json()["document_id"] == old.document_id
    reissued = site.post({**body, "reason": "customer asked for a duplicate, ticket 77"})
    assert reissued.status_code == 201, reissued.text
    assert reissued.json()["document_id"] != old.document_id
    index = site.built.index()
    try:
        revisions = index.documents.revisions(slot)
    finally:
        index.close()
    assert [r.revision for r in revisions] == [1, 2]
    assert site.get(f"/api/documents/{old.document_id}/content").status_code == 200
    audit = site.get("/api/audit?action=document.render&limit=50").json()["entries"]
    assert any(e["details"].get("reason", "").startswith("customer asked") for e in audit)


def test_cli_render_is_the_same_path(archive: Built, tmp_path: Path) -> None:
    record = sample_records(archive)[1]
    record_file = tmp_path / "record.json"
    record_file.write_text(json.dumps(record), encoding="utf-8")
    job = str(archive.jobs / "monthly_statements.toml")
    out = tmp_path / "doc.pdf"
    runner = CliRunner()
    args = ["-q", "render", job, "--record-json", str(record_file), "--idempotency-key", "k1"]
    first = runner.invoke(cli, [*args, "-o", str(out)], env=archive.env(),
                          catch_exceptions=False)
    assert first.exit_code == 0, first.output
    again = runner.invoke(cli, args, env=archive.env(), catch_exceptions=False)
    assert again.exit_code == 0, again.output
    one, two = json.loads(first.output), json.loads(again.output)
    assert one["document_id"] == two["document_id"] and two["created"] is False
    assert record["name"] in pdf_text(out.read_bytes())
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(dict(record, opening_balance="lots")), encoding="utf-8")
    refused = runner.invoke(cli, ["render", job, "--record-json", str(bad)], env=archive.env(),
                            catch_exceptions=False)
    assert refused.exit_code == 2
    assert "bad.json" in refused.output and "opening_balance" in refused.output


def test_a_record_the_jobs_filter_leaves_out_is_refused_on_demand(archive: Built) -> None:
    from factory.errors import RecordError
    from factory.jobs import load_job
    from factory.ondemand import OnDemandService, RenderRequest
    from tests.conftest import write_job

    records = sample_records(archive)
    job = load_job(write_job(archive.root / "jobs2", where="locale == 'xx'",
                             source={"type": "jsonl", "path": "unused.jsonl"}))
    service = OnDemandService(archive.settings)
    try:
        with pytest.raises(RecordError, match="not one this job takes"):
            service.render(job, RenderRequest(data=records[0]))
    finally:
        service.close()
    assert not [e for e in archive.entries() if e.period not in ("2026-10", "2026-11")]


def test_on_demand_delivers_over_the_jobs_channels_like_a_batch_record(
        tmp_path: Path, sample_dir: Path, settings, smtp_server) -> None:
    """The renewal notice on demand: the PDF archived, the email sent to a real SMTP server
    on loopback and archived, the delivery recorded, exactly as a batch run does it."""
    import csv

    from factory.archive import open_index
    from factory.ondemand import OnDemandService, RenderRequest
    from tests.pipeline.test_channels_run import customers, renewal_job

    path = customers(tmp_path / "data", sample_dir, [("C000401", "cs",
                                                      {"preferred_channel": "email"})])
    with path.open(encoding="utf-8") as handle:
        row = next(csv.DictReader(handle))
    job = renewal_job(tmp_path / "jobs", path)
    service = OnDemandService(settings.with_overrides(email_url=smtp_server.url()))
    try:
        result = service.render(job, RenderRequest(data=row, idempotency_key="notice-1"))
    finally:
        service.close()
    assert result.ok and result.created, result.as_dict()
    assert {c["channel"]: c["status"] for c in result.as_dict()["channels"]} == \
        {"pdf": "done", "email": "done"}
    (sent,) = smtp_server.messages
    assert sent["to"] == ["c000401@example.com"]
    index = open_index(settings.default_index_url)
    try:
        (delivery,) = index.deliveries.where(channel="email")
        run = index.runs.get(result.run_id)
    finally:
        index.close()
    assert delivery.status == "sent" and delivery.record_key == result.record_key
    assert run is not None and run.status == "completed"  # finished when the service closed
    assert run.report["counts"]["archived"] == 1
