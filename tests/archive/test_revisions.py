"""Nothing that was sent is ever lost or overwritten: ``run --force`` from the CLI writes a new
revision beside the old one, which stays retrievable, verified and purged only by retention;
a killed writer's temporary objects are reported by ``archive verify`` and removed by the next
run (issue 11). Real rendering, a real archive folder and index, through click's runner."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from click.testing import CliRunner
from sqlalchemy import update

from factory.archive.tables import documents
from factory.cli.app import cli, load_commands
from factory.compliance import ComplianceService
from factory.compliance.audit import Actor, AuditLog

if TYPE_CHECKING:
    from tests.archive_fixtures import Built

load_commands()
ACTOR = Actor("cli:test", "shell")


def invoke(built: Built, *args: str):
    return CliRunner().invoke(cli, list(args), env=built.env(), catch_exceptions=False)


def force_one(built: Built, *extra: str):
    job = str(built.jobs / "monthly_statements.toml")
    return invoke(built, "run", job, "--period", "2026-11", "--executor", "inline",
                  "--limit", "1", "--force", *extra)


def test_force_needs_a_reason_and_writes_a_revision_beside_the_old(archive: Built,
                                                                   tmp_path: Path) -> None:
    (first, *_rest) = archive.entries(job="monthly_statements", period="2026-11")
    before = archive.entries(job="monthly_statements", period="2026-11")
    result = force_one(archive)
    assert result.exit_code == 2 and "--reason" in result.output, result.output
    assert archive.entries(job="monthly_statements", period="2026-11") == before

    result = force_one(archive, "--reason", "address corrected [case 7]")
    assert result.exit_code == 0, result.output
    index = archive.index()
    (current,) = [e for e in index.documents.entries(job="monthly_statements", period="2026-11")
                  if e.record_key == first.record_key]
    assert current.revision == 2 and current.document_id != first.document_id
    old = index.documents.get(first.document_id)
    assert old.superseded_by == current.document_id
    assert old.supersede_reason == "address corrected [case 7]"
    assert old.superseded_actor.startswith("cli:")
    assert (archive.archive_dir / first.storage_key).exists()
    assert (archive.archive_dir / first.record_storage_key).exists()
    [audited] = [e for e in AuditLog(index).entries() if e.action == "document.supersede"]
    assert audited.document_id == first.document_id

    # Search: the current revision by default, every revision on request.
    found = json.loads(invoke(archive, "archive", "search", "--customer", first.customer_id,
                              "--from", "2026-11", "--to", "2026-11", "--type", "statement",
                              "--json").output)
    assert [d["document_id"] for d in found] == [current.document_id]
    every = json.loads(invoke(archive, "archive", "search", "--customer", first.customer_id,
                              "--from", "2026-11", "--to", "2026-11", "--type", "statement",
                              "--revisions", "--json").output)
    assert {d["document_id"] for d in every} == {first.document_id, current.document_id}
    table = invoke(archive, "archive", "search", "--customer", first.customer_id,
                   "--revisions").output
    assert "superseded" in table

    # The superseded revision is retrievable byte for byte, with a note saying what it is.
    out = tmp_path / "old.pdf"
    got = invoke(archive, "archive", "get", first.document_id, "-o", str(out))
    assert got.exit_code == 0, got.output
    assert out.read_bytes() == (archive.archive_dir / first.storage_key).read_bytes()
    assert f"superseded by {current.document_id}" in got.output
    assert "address corrected [case 7]" in got.output  # not eaten as markup

    # Verify covers both revisions; retention alone removes the old one.
    report = ComplianceService(index, archive.store()).verify()
    assert report.ok and report.documents == len(archive.entries()) + 1
    with index.engine.begin() as conn:
        conn.execute(update(documents).where(documents.c.document_id == first.document_id)
                     .values(retention_until=datetime.now(UTC) - timedelta(days=1)))
    purged = ComplianceService(index, archive.store()).purge_expired(
        ACTOR, datetime.now(UTC), execute=True)
    assert purged.purged == [first.document_id]
    assert index.documents.get(current.document_id).current
    assert not (archive.archive_dir / first.storage_key).exists()


def test_a_killed_writers_temp_objects_are_reported_then_removed_by_the_next_run(
        archive: Built) -> None:
    entry = archive.entries(job="monthly_statements", period="2026-11")[0]
    folder = (archive.archive_dir / entry.storage_key).parent
    stray = folder / f".{entry.document_id}.record.json.{'ab' * 16}.tmp"
    stray.write_bytes(b'{"half": ')  # what kill -9 during a write leaves
    result = invoke(archive, "archive", "verify", "--json")
    assert result.exit_code != 0
    findings = json.loads(result.output)["findings"]
    assert [f["kind"] for f in findings] == ["temp"]
    assert findings[0]["key"].endswith(stray.name)

    job = str(archive.jobs / "monthly_statements.toml")
    ran = invoke(archive, "run", job, "--period", "2026-11", "--executor", "inline")
    assert ran.exit_code == 0, ran.output
    assert not stray.exists()
    assert "removed 1 temporary object" in ran.output
    assert invoke(archive, "archive", "verify").exit_code == 0

