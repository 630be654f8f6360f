"""The compliance stage on a real archive (real rendering, file store, SQLite and PostgreSQL):
search, verified retrieval, verify, export bundles, legal hold, purge, re-render proof, API keys
and roles. The audit chain has its own file (test_audit.py)."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import zipfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import select, update

from factory.archive import template_snapshot_key
from factory.archive.store import sha256_of
from factory.archive.tables import api_keys, documents
from factory.compliance import Actor, AuditLog, ComplianceService, DocumentQuery, JobPolicy
from factory.compliance import documents as docs
from factory.compliance.keys import authenticate, create_key, list_keys, revoke_key
from factory.compliance.query import document_id
from factory.compliance.rerender import compare_pages
from factory.compliance.retention import HoldableStore
from factory.compliance.roles import PERMISSIONS, Permission, Role, allows
from factory.errors import (
    AuthenticationError,
    InputError,
    IntegrityError,
    LimitExceededError,
    NotFoundError,
    PermissionDeniedError,
)
from factory.executors import InlineExecutor
from factory.jobs import load_job
from factory.runner import RunOptions, run_job
from tests.conftest import pdf_text

if TYPE_CHECKING:
    from tests.archive_fixtures import Built


ACTOR = Actor("cli:tester", "shell")


def service(built: Built, **kwargs: int) -> ComplianceService:
    return ComplianceService(built.index(), built.store(), **kwargs)


def writable(path: Path) -> Path:
    path.chmod(0o644)
    return path


# -- queries -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "end", "expected"), [
    ("2026-01", False, date(2026, 1, 1)), ("2026-02", True, date(2026, 2, 28)),
    ("2024-02", True, date(2024, 2, 29)), ("2026-11-23", False, date(2026, 11, 23)),
    ("2026-12", True, date(2026, 12, 31)),
])
def test_date_bounds_accept_months_and_days(text: str, end: bool, expected: date) -> None:
    query = DocumentQuery.parse(date_to=text) if end else DocumentQuery.parse(date_from=text)
    assert (query.date_to if end else query.date_from) == expected


@pytest.mark.parametrize("bad", ["2026-13", "2026-1", "26-01", "2026-02-30", "yesterday",
                                 "2026-01-01' OR 1=1 --", "../2026"])
def test_malformed_dates_are_clear_errors(bad: str) -> None:
    with pytest.raises(InputError, match=r"--from .* is not a month like 2026-11"):
        DocumentQuery.parse(customer="C000001", date_from=bad)


def test_reversed_range_is_an_error() -> None:
    with pytest.raises(InputError, match=r"--from 2026-11 is after --to 2026-01.*reversed"):
        DocumentQuery.parse(date_from="2026-11", date_to="2026-01")
    DocumentQuery.parse(date_from="2026-11", date_to="2026-11")  # one month is fine


@pytest.mark.parametrize(("field", "value"), [
    ("customer", "C1\x00"), ("customer", "x" * 129), ("document_type", "Statement; DROP"),
    ("job", "../jobs"), ("channel", "pdf/../x"), ("run", "a b"),
])
def test_malformed_filters_are_refused(field: str, value: str) -> None:
    with pytest.raises(InputError):
        DocumentQuery.parse(**{field: value})


@pytest.mark.parametrize("bad", ["", "not-a-uuid", "../../etc/passwd",
                                 "416db8fe-79d6-53d5-9b84-b7ea62ae308", "%2e%2e%2f",
                                 "416db8fe-79d6-53d5-9b84-b7ea62ae3084' OR '1'='1"])
def test_document_ids_must_be_uuids(bad: str) -> None:
    with pytest.raises(InputError, match="is not a document id"):
        document_id(bad)


# -- search and retrieval ------------------------------------------------------------------------


def test_search_by_customer_type_job_channel_and_period_range(shared_archive: Built) -> None:
    svc = service(shared_archive)
    entries = shared_archive.entries()
    customer = entries[0].customer_id
    found, more = svc.search(ACTOR, DocumentQuery.parse(customer=customer))
    assert not more
    assert sorted((d.entry.job, d.entry.period) for d in found) == [
        ("monthly_invoices", "2026-11"), ("monthly_statements", "2026-10"),
        ("monthly_statements", "2026-11")]
    assert {d.entry.customer_id for d in found} == {customer}

    def periods(**filters: str) -> list[str]:
        result, _ = svc.search(ACTOR, DocumentQuery.parse(customer=customer, **filters))
        return sorted(d.entry.period for d in result)

    assert periods(document_type="statement") == ["2026-10", "2026-11"]
    assert periods(document_type="invoice") == ["2026-11"]
    assert periods(document_type="statement", date_from="2026-11") == ["2026-11"]
    assert periods(document_type="statement", date_to="2026-10") == ["2026-10"]
    assert periods(document_type="statement", date_from="2026-10-02", date_to="2026-11-01") \
        == ["2026-11"]
    assert periods(date_from="2025-01", date_to="2026-09") == []
    assert periods(job="monthly_invoices", channel="pdf") == ["2026-11"]
    assert periods(channel="email") == []
    # An injection attempt in a free-text filter is just a value that matches nothing.
    found, _ = svc.search(ACTOR, DocumentQuery.parse(customer="C1' OR '1'='1"))
    assert found == []
    found, more = svc.search(ACTOR, DocumentQuery.parse(job="monthly_statements", limit=2))
    assert len(found) == 2 and more
    log = AuditLog(shared_archive.index()).entries()
    assert [e.action for e in log][-1] == "archive.search"


def test_get_returns_verified_bytes_and_audits(archive: Built) -> None:
    svc = service(archive)
    entry = archive.entries()[0]
    document, data = svc.get(ACTOR, entry.document_id.upper())
    assert sha256_of(data) == entry.sha256 == document.entry.sha256
    assert entry.record_key in pdf_text(data)
    (last,) = svc.audit.entries(document_ids=[entry.document_id])
    assert (last.action, last.actor, last.outcome) == ("archive.get", "cli:tester", "ok")
    with pytest.raises(NotFoundError, match="no document 00000000-0000-0000-0000-000000000000"):
        svc.get(ACTOR, "00000000-0000-0000-0000-000000000000")


def test_a_tampered_object_is_never_handed_out(archive: Built) -> None:
    svc = service(archive)
    entry = archive.entries()[0]
    path = writable(archive.archive_dir / entry.storage_key)
    data = bytearray(path.read_bytes())
    data[2000] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(IntegrityError, match=f"has SHA-256 .* but {entry.sha256} was recorded"):
        svc.get(ACTOR, entry.document_id)
    (last,) = svc.audit.entries(document_ids=[entry.document_id])
    assert (last.action, last.outcome) == ("archive.get", "integrity_error")


# -- verify ----------------------------------------------------------------------------------------


def test_verify_a_clean_archive(shared_archive: Built) -> None:
    report = service(shared_archive).verify()
    assert report.ok, [f.describe() for f in report.findings]
    assert report.documents == 9 == report.snapshots
    assert report.template_versions == 1
    assert report.objects == 9 * 2 + 1
    assert report.bytes == sum(e.byte_size for e in shared_archive.entries())
    scoped = service(shared_archive).verify("monthly_invoices")
    assert scoped.ok and scoped.documents == 3 and scoped.objects == 6


def test_verify_finds_missing_altered_and_orphan_objects(archive: Built) -> None:
    entries = archive.entries(job="monthly_statements")
    missing, altered, snap = entries[0], entries[1], entries[2]
    (archive.archive_dir / missing.storage_key).unlink()
    writable(archive.archive_dir / altered.storage_key).write_bytes(b"%PDF-1.7 forged")
    record = writable(archive.archive_dir / snap.record_storage_key)
    record.write_text(record.read_text().replace(snap.customer_id, "C999999"))
    stray = archive.archive_dir / "monthly_statements" / "2026-11" / "stray.pdf"
    stray.write_bytes(b"left behind")
    version = entries[0].template_version
    tpl = writable(archive.archive_dir / template_snapshot_key(version))
    tpl.write_bytes(tpl.read_bytes()[:-10] + b"0123456789")

    report = service(archive).verify()
    kinds = sorted((f.kind, f.key) for f in report.findings)
    assert kinds == sorted([
        ("missing", missing.storage_key), ("altered", altered.storage_key),
        ("altered", snap.record_storage_key), ("orphan", "monthly_statements/2026-11/stray.pdf"),
        ("altered", template_snapshot_key(version)),
    ])
    assert report.counts() == {"missing": 1, "altered": 3, "orphan": 1, "temp": 0,
                               "unheld": 0, "seal": 0}
    invoices = service(archive).verify("monthly_invoices")
    assert [f.kind for f in invoices.findings] == ["altered"]  # only the shared template zip


# -- export ----------------------------------------------------------------------------------------


def test_export_bundle_holds_documents_manifests_and_audit(archive: Built, tmp_path: Path
                                                          ) -> None:
    svc = service(archive)
    customer = archive.entries()[0].customer_id
    statement = next(e for e in archive.entries(customer_id=customer)
                     if e.document_type == "statement")
    svc.hold(ACTOR, statement.document_id, "case 17")
    svc.get(ACTOR, statement.document_id)
    target = tmp_path / "bundle.zip"
    query = DocumentQuery.parse(customer=customer, date_from="2026-01", date_to="2026-11",
                                limit=None)
    summary = svc.export(ACTOR, query, target)
    assert summary.documents == 3
    assert hashlib.sha256(target.read_bytes()).hexdigest() == summary.sha256
    with zipfile.ZipFile(target) as bundle:
        names = set(bundle.namelist())
        manifest = json.loads(bundle.read("manifest.json"))
        rows = list(csv.DictReader(io.StringIO(bundle.read("manifest.csv").decode())))
        trail = [json.loads(line) for line in bundle.read("audit.jsonl").splitlines()]
        sums = bundle.read("SHA256SUMS").decode().splitlines()
        for row in manifest["documents"]:
            data = bundle.read(row["path"])
            assert sha256_of(data) == row["sha256"]
            assert f"{row['sha256']}  {row['path']}" in sums
            assert row["customer_id"] == customer
        assert {"manifest.json", "manifest.csv", "audit.jsonl", "SHA256SUMS", "README.txt"} \
            <= names
    assert [r["document_id"] for r in rows] == [r["document_id"] for r in manifest["documents"]]
    assert {r["legal_hold"] for r in rows} == {"True", "False"}
    assert manifest["query"]["customer"] == customer
    assert [(t["action"], t["document_id"]) for t in trail] == [
        ("archive.hold", statement.document_id), ("archive.get", statement.document_id)]
    from factory.compliance.audit import chain_hash

    for item in trail:  # an auditor can check each entry's own hash
        body = json.dumps({k: (json.dumps(item["details"], sort_keys=True,
                                          separators=(",", ":"))
                               if k == "details" else item[k])
                           for k in ("seq", "at", "actor", "role", "action", "outcome",
                                     "document_id", "run_id", "details")},
                          sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        assert chain_hash(item["prev_hash"], body) == item["entry_hash"]
    exported = svc.audit.entries(document_ids=[statement.document_id])
    assert exported[-1].action == "archive.export"
    assert json.loads(exported[-1].details)["bundle_sha256"] == summary.sha256


def test_export_refusals_leave_nothing_behind(archive: Built, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    customer = archive.entries()[0].customer_id
    query = DocumentQuery.parse(customer=customer, limit=None)
    total = sum(e.byte_size for e in archive.entries(customer_id=customer))
    svc = service(archive, export_max_bytes=total - 1)
    before = len(svc.audit.entries())
    with pytest.raises(LimitExceededError, match=f"3 document.* of {total:,} bytes, over the"
                                                 f" limit of {total - 1:,}"):
        svc.export(ACTOR, query, out / "big.zip")
    with pytest.raises(NotFoundError, match="no documents match"):
        svc.export(ACTOR, DocumentQuery.parse(customer="C123456", limit=None), out / "none.zip")
    entry = archive.entries(customer_id=customer)[1]
    writable(archive.archive_dir / entry.storage_key).write_bytes(b"tampered")
    with pytest.raises(IntegrityError):
        service(archive).export(ACTOR, query, out / "tampered.zip")
    (out / "exists.zip").write_bytes(b"mine")
    with pytest.raises(InputError, match="exists already"):
        service(archive).export(ACTOR, query, out / "exists.zip")
    assert sorted(p.name for p in out.iterdir()) == ["exists.zip"]
    assert (out / "exists.zip").read_bytes() == b"mine"
    assert len(svc.audit.entries()) == before, "refused exports are not recorded as done"


# -- hold, purge -----------------------------------------------------------------------------------


def expire(built: Built, document_ids: list[str], days: int = 1) -> None:
    index = built.index()
    with index.engine.begin() as conn:
        conn.execute(update(documents).where(documents.c.document_id.in_(document_ids))
                     .values(retention_until=datetime.now(UTC) - timedelta(days=days)))
    index.close()


def test_purge_deletes_only_expired_documents_not_on_hold(archive: Built) -> None:
    svc = service(archive)
    statements = archive.entries(job="monthly_statements", period="2026-10")
    expired = [e.document_id for e in statements]
    expire(archive, expired)
    held = statements[0]
    assert svc.hold(ACTOR, held.document_id, "litigation")[1] is True
    assert svc.hold(ACTOR, held.document_id)[1] is False  # idempotent

    dry = svc.purge_expired(ACTOR, datetime.now(UTC))
    assert dry.dry_run and sorted(d.document_id for d in dry.expired) == sorted(expired[1:])
    assert [d.document_id for d in dry.kept_on_hold] == [held.document_id]
    assert len(archive.entries()) == 9, "a dry run deletes nothing"

    done = svc.purge_expired(ACTOR, datetime.now(UTC), execute=True)
    assert sorted(done.purged) == sorted(expired[1:]) and not done.warnings
    assert len(archive.entries()) == 7
    for entry in statements[1:]:
        assert not (archive.archive_dir / entry.storage_key).exists()
        assert not (archive.archive_dir / entry.record_storage_key).exists()
        purged = svc.audit.entries(document_ids=[entry.document_id])
        assert purged[-1].action == "archive.purge"
        assert json.loads(purged[-1].details)["sha256"] == entry.sha256
    assert (archive.archive_dir / held.storage_key).exists()
    assert service(archive).verify().ok

    svc.release(ACTOR, held.document_id, "case closed")
    again = svc.purge_expired(ACTOR, datetime.now(UTC), execute=True)
    assert again.purged == [held.document_id]


def test_a_hold_placed_after_listing_still_wins(archive: Built,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    svc = service(archive)
    entry = archive.entries()[0]
    expire(archive, [entry.document_id])
    index = archive.index()
    with index.engine.begin() as conn:  # held between the listing and the delete
        conn.execute(update(documents).values(legal_hold=True)
                     .where(documents.c.document_id == entry.document_id))
    from factory.compliance import retention

    (held,) = [d for d in retention.iter_documents(index) if d.document_id == entry.document_id]
    stale = docs.Document(held.entry, legal_hold=False)  # what the listing saw a moment before
    monkeypatch.setattr(retention, "iter_documents",
                        lambda _index, *_query, **_where: iter([stale]))
    result = svc.purge_expired(ACTOR, datetime.now(UTC), execute=True)
    assert result.purged == [] and "kept" in result.warnings[0]
    assert (archive.archive_dir / entry.storage_key).exists()


def test_force_rerun_refuses_to_replace_a_held_document(archive: Built) -> None:
    svc = service(archive)
    entry = archive.entries(job="monthly_invoices")[0]
    svc.hold(ACTOR, entry.document_id, "audit")
    job = load_job(archive.jobs / "monthly_invoices.toml")
    report = run_job(job, archive.settings, RunOptions(period="2026-11", force=True,
                                                       force_reason="re-render for audit"),
                     InlineExecutor())
    assert report.counts.failed == 1 and report.counts.archived == 2 and report.balanced
    assert any("legal hold" in reason for reason in report.failure_reasons)
    assert docs.load(svc.index, entry.document_id).legal_hold
    assert (archive.archive_dir / entry.storage_key).exists()
    assert service(archive).verify().ok, "no orphan left by the refused re-render"


class HoldingStore:
    """A store that records legal holds, as an S3 store with Object Lock would."""

    def __init__(self, inner: object) -> None:
        self.inner = inner
        self.held: dict[str, bool] = {}
        self.url = "holding://"

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    def set_legal_hold(self, key: str, hold: bool) -> None:
        self.held[key] = hold

    def legal_hold(self, key: str) -> bool | None:
        return self.held.get(key, False)


def test_hold_is_passed_to_stores_that_support_it(archive: Built) -> None:
    store = HoldingStore(archive.store())
    assert isinstance(store, HoldableStore)
    svc = ComplianceService(archive.index(), store)  # type: ignore[arg-type]
    entry = archive.entries()[0]
    svc.hold(ACTOR, entry.document_id)
    assert store.held == {entry.storage_key: True, entry.record_storage_key: True}
    assert svc.verify().ok
    store.held[entry.record_storage_key] = False  # cleared in the store, not in the index
    findings = svc.verify().findings
    assert [(f.kind, f.key) for f in findings] == [("unheld", entry.record_storage_key)]
    svc.release(ACTOR, entry.document_id)
    assert set(store.held.values()) == {False}
    assert svc.verify().ok  # released: nothing is expected to be held


# -- rerender --------------------------------------------------------------------------------------


def test_rerender_proves_the_archived_document(archive: Built, tmp_path: Path) -> None:
    svc = service(archive)
    entry = archive.entries(job="monthly_statements", period="2026-10")[0]
    # The project's job file and templates changing since must not matter: all comes from the
    # archive (the record snapshot and the template-set zip of the recorded version).
    (archive.jobs / "monthly_statements.toml").write_text("broken = true\n")
    result = svc.rerender(ACTOR, entry.document_id, tmp_path / "work")
    assert result.matches and result.differences == []
    assert result.archived_pages == result.rendered_pages == entry.page_count
    assert result.byte_identical
    assert (tmp_path / "work" / "templates" / "statement" / "document.html").is_file()
    (last,) = svc.audit.entries(document_ids=[entry.document_id])
    assert json.loads(last.details) == {"matches": True, "byte_identical": True}


def test_rerender_says_precisely_what_differs(archive: Built, tmp_path: Path) -> None:
    entry = archive.entries(job="monthly_statements", period="2026-11")[0]
    path = writable(archive.archive_dir / entry.record_storage_key)
    snapshot = json.loads(path.read_text())
    old_name = snapshot["record"]["name"]
    snapshot["record"]["name"] = "Somebody Else"
    path.write_text(json.dumps(snapshot))
    index = archive.index()
    with index.engine.begin() as conn:  # someone who also rewrote the recorded checksum
        conn.execute(update(documents).where(documents.c.document_id == entry.document_id)
                     .values(record_sha256=sha256_of(path.read_bytes())))
    result = service(archive).rerender(ACTOR, entry.document_id, tmp_path / "work")
    assert not result.matches and not result.byte_identical
    assert result.differences[0].startswith("page 1: ")
    assert any(line.startswith("  -") and old_name in line for line in result.differences)
    assert any(line.startswith("  +") and "Somebody Else" in line for line in result.differences)


def test_rerender_refuses_a_tampered_record_snapshot(archive: Built, tmp_path: Path) -> None:
    entry = archive.entries()[0]
    path = writable(archive.archive_dir / entry.record_storage_key)
    path.write_text(path.read_text().replace(entry.customer_id, "C999999"))
    with pytest.raises(IntegrityError, match="record snapshot"):
        service(archive).rerender(ACTOR, entry.document_id, tmp_path / "work")


def test_compare_pages_reports_page_counts_and_lines() -> None:
    assert compare_pages(["a\nb"], ["a\nb"]) == []
    lines = compare_pages(["a\nb", "c"], ["a\nB"])
    assert lines[0] == "page count: archived 2, re-rendered 1"
    assert lines[1:] == ["page 1: 2 line(s) differ", "  -b", "  +B",
                         "page 2: 1 line(s) differ", "  -c"]


# -- API keys and roles ------------------------------------------------------------------------


def test_api_keys_are_stored_hashed_and_revocable(archive: Built) -> None:
    index = archive.index()
    info, token = create_key(index, Role.FINANCE, "alice", "cli:root")
    assert token.startswith(f"dfk_{info.key_id}_") and len(token) == 4 + 12 + 1 + 43
    assert authenticate(index, token).role is Role.FINANCE
    with index.engine.connect() as conn:
        row = conn.execute(select(api_keys)).one()
    secret = token[len(f"dfk_{info.key_id}_"):]
    assert secret not in str(row._mapping) and token not in str(row._mapping)
    assert token.encode() not in (archive.var / "index.db").read_bytes()
    for bad in ("", "dfk_", token[:-1] + ("A" if token[-1] != "A" else "B"),
                f"dfk_{'0' * 12}_{token[-43:]}", token + "x", "Bearer " + token):
        with pytest.raises(AuthenticationError):
            authenticate(index, bad)
    revoke_key(index, info.key_id)
    with pytest.raises(AuthenticationError):
        authenticate(index, token)
    assert list_keys(index)[0].revoked_at is not None
    with pytest.raises(NotFoundError):
        revoke_key(index, "0" * 12)
    with pytest.raises(InputError):
        revoke_key(index, "../../x")


def test_role_matrix_and_finance_job_rule() -> None:
    assert allows(Role.COMPLIANCE, Permission.ARCHIVE_GET)
    assert not allows(Role.COMPLIANCE, Permission.RUNS_START)
    assert not allows(Role.OPERATIONS, Permission.ARCHIVE_SEARCH)
    assert not allows(Role.FINANCE, Permission.ARCHIVE_EXPORT)
    assert PERMISSIONS[Role.FINANCE] == {Permission.RUNS_READ, Permission.RUNS_START}
    policy = JobPolicy()
    assert policy.may_use_job(Role.FINANCE, "invoice")
    assert not policy.may_use_job(Role.FINANCE, "statement")
    assert not policy.may_use_job(Role.FINANCE, None)
    assert policy.may_use_job(Role.OPERATIONS, "statement")
    with pytest.raises(PermissionDeniedError, match="monthly_statements is a statement job"):
        policy.check_job(Role.FINANCE, "monthly_statements", "statement")
    custom = JobPolicy.of(["credit_note", "invoice"])
    assert custom.may_use_job(Role.FINANCE, "credit_note")
    with pytest.raises(InputError, match="role 'admin' is not one of"):
        Role.parse("admin")
