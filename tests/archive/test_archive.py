"""The file store and the SQL index: atomic writes, checksums, keys, claims, runs."""

from __future__ import annotations

import multiprocessing
import stat
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from factory.archive import (
    ClaimBusy,
    FileStore,
    MemoryStore,
    RunConflict,
    Slot,
    document_id,
    document_key,
    open_index,
    open_store,
)
from factory.archive.audit import Actor
from factory.archive.index import Supersession
from factory.archive.store import sha256_of
from factory.archive.tables import metadata
from factory.compliance.audit import AuditLog
from factory.errors import ArchiveError, ConfigError, FencedError, IntegrityError
from factory.models import ArchiveEntry


@pytest.mark.fast
def test_file_store_round_trip_is_atomic_and_read_only(tmp_path: Path) -> None:
    store = open_store((tmp_path / "archive").as_uri())
    assert isinstance(store, FileStore)
    data = b"%PDF-1.7 test"
    store.put("job/2026-11/C1/d.pdf", data, media_type="application/pdf",
              sha256=sha256_of(data))
    path = tmp_path / "archive" / "job" / "2026-11" / "C1" / "d.pdf"
    assert path.read_bytes() == data
    assert not path.stat().st_mode & stat.S_IWUSR
    assert store.get("job/2026-11/C1/d.pdf") == data
    assert list(store.keys("job/")) == ["job/2026-11/C1/d.pdf"]
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".")]
    store.put("job/2026-11/C1/d.pdf", data, media_type="x", sha256=sha256_of(data))  # no-op
    with pytest.raises(ArchiveError, match="never replaced"):
        store.put("job/2026-11/C1/d.pdf", b"v2", media_type="x", sha256=sha256_of(b"v2"))
    assert store.get("job/2026-11/C1/d.pdf") == data
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".")]
    store.delete("job/2026-11/C1/d.pdf")  # the retention purge's way out
    assert not store.exists("job/2026-11/C1/d.pdf")


@pytest.mark.fast
def test_store_refuses_wrong_checksum_and_leaves_nothing(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    with pytest.raises(IntegrityError, match="SHA-256"):
        store.put("a/b.pdf", b"data", media_type="x", sha256="0" * 64)
    assert list(tmp_path.rglob("*.pdf")) == []


@pytest.mark.fast
@pytest.mark.parametrize("key", ["../x", "/etc/passwd", "a//b", "a/./b", "a\\b", ""])
def test_store_refuses_keys_that_escape(tmp_path: Path, key: str) -> None:
    for store in (FileStore(tmp_path), MemoryStore()):
        with pytest.raises(ArchiveError, match="invalid storage key"):
            store.put(key, b"x", media_type="x", sha256=sha256_of(b"x"))


@pytest.mark.fast
def test_unknown_store_scheme() -> None:
    with pytest.raises(ConfigError, match="unknown scheme"):
        open_store("gopher://x")


@pytest.mark.fast
def test_document_ids_are_deterministic_and_keys_safe() -> None:
    first = document_id("job", "2026-11", "C1", "statement", "pdf", 1)
    assert first == document_id("job", "2026-11", "C1", "statement", "pdf", 1)
    assert first != document_id("job", "2026-11", "C1", "statement", "pdf", 2)
    assert document_key("job", "2026-11", "C1", first, "pdf", "a1b2") == \
        f"job/2026-11/C1/{first}.a1b2.pdf"
    with pytest.raises(ArchiveError):
        document_key("job", "2026-11", "../C1", first, "pdf", "a1b2")
    with pytest.raises(ArchiveError):
        document_key("job", "2026-11", "C1", first, "pdf", "../x")


def entry(slot: Slot, doc_id: str, run_id: str = "run1", revision: int = 1) -> ArchiveEntry:
    now = datetime.now(UTC)
    return ArchiveEntry(
        document_id=doc_id, job=slot.job, run_id=run_id, period=slot.period,
        record_key=slot.record_key, customer_id=slot.record_key,
        document_type=slot.document_type, channel=slot.channel, locale="cs",
        template_version="a" * 64, page_count=2, byte_size=10, sha256="b" * 64,
        storage_key=f"{slot.job}/{slot.period}/{slot.record_key}/{doc_id}.pdf",
        media_type="application/pdf", created_at=now, retention_until=now + timedelta(days=1),
        revision=revision)


SLOT = Slot("job", "2026-11", "C1", "pdf", "statement")


@pytest.mark.fast
def test_migrations_match_the_table_definitions(index_url: str) -> None:
    index = open_index(index_url)
    with index.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), metadata)
    assert diff == []


@pytest.mark.fast
def test_claim_complete_and_skip(index_url: str) -> None:
    index = open_index(index_url)
    claim = index.claims.claim(SLOT, "run1")
    assert claim.existing is None
    assert index.claims.complete(claim, entry(SLOT, "d1")) is None
    assert index.documents.find(SLOT).document_id == "d1"
    assert index.claims.held() == 0
    forced = index.claims.claim(SLOT, "run2")
    assert forced.existing.document_id == "d1"
    who = Supersession(Actor("cli:ops", "shell"), "address corrected")
    replaced = index.claims.complete(forced, entry(SLOT, "d2", "run2", revision=2), supersede=who)
    assert replaced.document_id == "d1"
    # The new revision is current; the old one stays indexed beside it, marked superseded.
    assert [e.document_id for e in index.documents.entries(job="job")] == ["d2"]
    every = index.documents.entries(job="job", revisions=True)
    assert [e.document_id for e in every] == ["d1", "d2"]
    old = index.documents.get("d1")
    assert (old.superseded_by, old.superseded_actor, old.supersede_reason) == \
        ("d2", "cli:ops", "address corrected")
    assert old.superseded_at is not None and not old.current
    assert index.documents.find(SLOT).document_id == "d2" and index.documents.get("d2").current
    assert [e.revision for e in index.documents.revisions(SLOT)] == [1, 2]
    audit = AuditLog(index)
    [supersede] = [e for e in audit.entries() if e.action == "document.supersede"]
    assert (supersede.document_id, supersede.actor, supersede.run_id) == \
        ("d1", "cli:ops", "run2")
    assert '"superseded_by":"d2"' in supersede.details
    assert audit.verify().ok


@pytest.mark.fast
def test_claims_block_live_workers_and_yield_to_stale_or_other_runs(index_url: str) -> None:
    index = open_index(index_url)
    first = index.claims.claim(SLOT, "run1")
    with pytest.raises(ClaimBusy):
        index.claims.claim(SLOT, "run1")
    stale = index.claims.claim(SLOT, "run1", lease=timedelta(seconds=-1))
    with pytest.raises(ArchiveError, match="taken over"):
        index.claims.complete(first, entry(SLOT, "d1"))
    other_run = index.claims.claim(SLOT, "run2")
    with pytest.raises(FencedError, match="taken over by run run2"):
        index.claims.complete(stale, entry(SLOT, "d1"))
    index.claims.complete(other_run, entry(SLOT, "d1", "run2"))
    assert index.documents.find(SLOT).run_id == "run2"


@pytest.mark.fast
def test_release_gives_the_slot_back(index_url: str) -> None:
    index = open_index(index_url)
    index.claims.release(index.claims.claim(SLOT, "run1"))
    assert index.claims.held() == 0
    index.claims.claim(SLOT, "run1")


def test_concurrent_claims_have_one_winner(index_url: str) -> None:
    url = index_url
    open_index(url)
    results: list[str] = []

    def attempt() -> None:
        index = open_index(url, migrate=False)
        try:
            index.claims.claim(SLOT, "run1")
            results.append("won")
        except ClaimBusy:
            results.append("busy")

    threads = [threading.Thread(target=attempt) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == ["busy"] * 5 + ["won"]


@pytest.mark.fast
def test_runs_are_exclusive_per_job_and_period(index_url: str) -> None:
    index = open_index(index_url)
    index.runs.start_run("r1", "job", "2026-11", executor="pool", workers=2,
                         template_version="v", dry_run=False)
    with pytest.raises(RunConflict, match="r1 of job for 2026-11 is still running"):
        index.runs.start_run("r2", "job", "2026-11", executor="pool", workers=2,
                             template_version="v", dry_run=False)
    # live_run (the HTTP launcher's early check) applies the same rule as start_run.
    assert index.runs.live_run("job", "2026-11").run_id == "r1"
    assert index.runs.live_run("job", "2026-12") is None
    assert index.runs.live_run("job", "2026-11", stale_after=timedelta(seconds=-1)) is None
    index.runs.start_run("r3", "job", "2026-12", executor="pool", workers=2,
                         template_version="v", dry_run=False)
    index.runs.start_run("r4", "job", "2026-11", executor="pool", workers=2,
                         template_version="v", dry_run=False, stale_after=timedelta(seconds=-1))
    assert index.runs.get("r1").status == "abandoned"
    index.runs.finish_run("r4", "completed", {"counts": {"archived": 3}})
    found = index.runs.get("r4")
    assert found.status == "completed" and found.report["counts"]["archived"] == 3
    assert [r.run_id for r in index.runs.recent("job")][:1] in (["r4"], ["r3"])


@pytest.mark.fast
def test_schema_check_without_migration(index_url: str) -> None:
    with pytest.raises(ArchiveError, match="docfactory index upgrade"):
        open_index(index_url, migrate=False)


@pytest.mark.fast
def test_a_redelivered_task_takes_over_its_own_claim_at_once(index_url: str) -> None:
    """A Celery task redelivered after its worker died holds the same task id: it takes the
    dead worker's claim over without waiting for the lease; any other worker of the run
    still waits, and the dead worker's late completion is refused."""
    index = open_index(index_url)
    dead = index.claims.claim(SLOT, "run1", holder="task-1")
    with pytest.raises(ClaimBusy):
        index.claims.claim(SLOT, "run1", holder="task-2")
    with pytest.raises(ClaimBusy):
        index.claims.claim(SLOT, "run1")
    again = index.claims.claim(SLOT, "run1", holder="task-1")
    with pytest.raises(ArchiveError, match="taken over"):
        index.claims.complete(dead, entry(SLOT, "d1"))
    index.claims.complete(again, entry(SLOT, "d1"))
    assert index.documents.find(SLOT).document_id == "d1" and index.claims.held() == 0


def test_bare_postgresql_urls_use_psycopg_3(pg_url: str) -> None:
    assert pg_url.startswith("postgresql://")
    index = open_index(pg_url)
    assert index.engine.dialect.driver == "psycopg"
    assert index.safe_url.startswith("postgresql+psycopg://postgres@127.0.0.1:5432/")


def test_index_errors_never_show_the_password() -> None:
    with pytest.raises(ArchiveError) as caught:
        open_index("postgresql://bob:s3cret-pw@127.0.0.1:1/nowhere")
    assert "s3cret-pw" not in str(caught.value) and "127.0.0.1:1" in str(caught.value)


def _race(url: str, number: int, same_run: bool, barrier: Any, results: Any) -> None:
    index = open_index(url, migrate=False)
    run_id = "run-same" if same_run else f"run-{number}"
    barrier.wait()
    try:  # the worker's protocol: skip if archived, claim, skip if archived meanwhile, complete
        if index.documents.find(SLOT) is not None:
            results.put(("skipped", number))
            return
        claim = index.claims.claim(SLOT, run_id, holder=f"task-{number}")
        if claim.existing is not None:
            index.claims.release(claim)
            results.put(("skipped", number))
            return
        index.claims.complete(claim, entry(SLOT, f"doc-{number}", run_id))
        results.put(("won", number))
    except ClaimBusy:
        results.put(("busy", number))
    except ArchiveError as exc:
        results.put(("lost" if "taken over" in str(exc) else f"error: {exc}", number))
    finally:
        index.close()


@pytest.mark.parametrize("same_run", [True, False], ids=["same-run", "other-runs"])
def test_processes_racing_on_one_slot_leave_exactly_one_row(index_url: str,
                                                            same_run: bool) -> None:
    """Six processes of one run, or of six runs, archive the same slot at the same moment:
    exactly one succeeds, and there is exactly one document row, the winner's."""
    open_index(index_url).close()
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(6), context.Queue()
    processes = [context.Process(target=_race, args=(index_url, n, same_run, barrier, results))
                 for n in range(6)]
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=120) for _ in processes]
    for process in processes:
        process.join(60)
    assert not [o for o in outcomes if o[0].startswith("error")], outcomes
    winners = {number for status, number in outcomes if status == "won"}
    index = open_index(index_url, migrate=False)
    rows = list(index.documents.entries(job=SLOT.job, period=SLOT.period,
                                        record_key=SLOT.record_key))
    assert len(rows) == 1
    assert rows[0].document_id in {f"doc-{n}" for n in winners}
    assert len(outcomes) == 6
    assert index.claims.held() == 0
    assert len(winners) == 1, outcomes


@pytest.mark.fast
def test_a_killed_coordinator_does_not_block_the_next_run(index_url: str) -> None:
    import subprocess
    import sys

    from factory.archive.index import run_owner

    index = open_index(index_url)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    host = run_owner().rpartition(":")[0]
    index.runs.start_run("r1", "job", "2026-11", executor="pool", workers=1, template_version="v",
                         dry_run=False, owner=f"{host}:{dead}")
    index.runs.start_run("r2", "job", "2026-11", executor="pool", workers=1, template_version="v",
                         dry_run=False, owner=run_owner())
    assert index.runs.get("r1").status == "abandoned"
    with pytest.raises(RunConflict):
        index.runs.start_run("r3", "job", "2026-11", executor="pool", workers=1,
                             template_version="v", dry_run=False, owner=run_owner())
    index.runs.start_run("r4", "job", "2026-12", executor="pool", workers=1, template_version="v",
                         dry_run=False, owner="another-host:1")
    with pytest.raises(RunConflict):
        index.runs.start_run("r5", "job", "2026-12", executor="pool", workers=1,
                             template_version="v", dry_run=False, owner=run_owner())
