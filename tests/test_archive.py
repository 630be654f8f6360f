"""The file store and the SQL index: atomic writes, checksums, keys, claims, runs."""

from __future__ import annotations

import stat
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

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
from factory.archive.store import sha256_of
from factory.archive.tables import metadata
from factory.errors import ArchiveError, ConfigError, IntegrityError
from factory.models import ArchiveEntry


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
    store.put("job/2026-11/C1/d.pdf", b"v2", media_type="x", sha256=sha256_of(b"v2"))
    assert store.get("job/2026-11/C1/d.pdf") == b"v2"
    store.delete("job/2026-11/C1/d.pdf")
    assert not store.exists("job/2026-11/C1/d.pdf")


def test_store_refuses_wrong_checksum_and_leaves_nothing(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    with pytest.raises(IntegrityError, match="SHA-256"):
        store.put("a/b.pdf", b"data", media_type="x", sha256="0" * 64)
    assert list(tmp_path.rglob("*.pdf")) == []


@pytest.mark.parametrize("key", ["../x", "/etc/passwd", "a//b", "a/./b", "a\\b", ""])
def test_store_refuses_keys_that_escape(tmp_path: Path, key: str) -> None:
    for store in (FileStore(tmp_path), MemoryStore()):
        with pytest.raises(ArchiveError, match="invalid storage key"):
            store.put(key, b"x", media_type="x", sha256=sha256_of(b"x"))


def test_unknown_store_scheme() -> None:
    with pytest.raises(ConfigError, match="unknown scheme"):
        open_store("gopher://x")


def test_document_ids_are_deterministic_and_keys_safe() -> None:
    first = document_id("job", "2026-11", "C1", "statement", "pdf", 1)
    assert first == document_id("job", "2026-11", "C1", "statement", "pdf", 1)
    assert first != document_id("job", "2026-11", "C1", "statement", "pdf", 2)
    assert document_key("job", "2026-11", "C1", first, "pdf") == f"job/2026-11/C1/{first}.pdf"
    with pytest.raises(ArchiveError):
        document_key("job", "2026-11", "../C1", first, "pdf")


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


def test_migrations_match_the_table_definitions(tmp_path: Path) -> None:
    index = open_index(f"sqlite:///{tmp_path / 'i.db'}")
    with index.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), metadata)
    assert diff == []


def test_claim_complete_and_skip(tmp_path: Path) -> None:
    index = open_index(f"sqlite:///{tmp_path / 'i.db'}")
    claim = index.claim(SLOT, "run1")
    assert claim.existing is None
    assert index.complete(claim, entry(SLOT, "d1")) is None
    assert index.find(SLOT).document_id == "d1"
    assert index.claims_held() == 0
    forced = index.claim(SLOT, "run2")
    assert forced.existing.document_id == "d1"
    replaced = index.complete(forced, entry(SLOT, "d2", "run2", revision=2))
    assert replaced.document_id == "d1"
    assert [e.document_id for e in index.entries(job="job")] == ["d2"]


def test_claims_block_live_workers_and_yield_to_stale_or_other_runs(tmp_path: Path) -> None:
    index = open_index(f"sqlite:///{tmp_path / 'i.db'}")
    first = index.claim(SLOT, "run1")
    with pytest.raises(ClaimBusy):
        index.claim(SLOT, "run1")
    stale = index.claim(SLOT, "run1", lease=timedelta(seconds=-1))
    with pytest.raises(ArchiveError, match="taken over"):
        index.complete(first, entry(SLOT, "d1"))
    other_run = index.claim(SLOT, "run2")
    with pytest.raises(ArchiveError, match="taken over"):
        index.complete(stale, entry(SLOT, "d1"))
    index.complete(other_run, entry(SLOT, "d1", "run2"))
    assert index.find(SLOT).run_id == "run2"


def test_release_gives_the_slot_back(tmp_path: Path) -> None:
    index = open_index(f"sqlite:///{tmp_path / 'i.db'}")
    index.release(index.claim(SLOT, "run1"))
    assert index.claims_held() == 0
    index.claim(SLOT, "run1")


def test_concurrent_claims_have_one_winner(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'i.db'}"
    open_index(url)
    results: list[str] = []

    def attempt() -> None:
        index = open_index(url, migrate=False)
        try:
            index.claim(SLOT, "run1")
            results.append("won")
        except ClaimBusy:
            results.append("busy")

    threads = [threading.Thread(target=attempt) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == ["busy"] * 5 + ["won"]


def test_runs_are_exclusive_per_job_and_period(tmp_path: Path) -> None:
    index = open_index(f"sqlite:///{tmp_path / 'i.db'}")
    index.start_run("r1", "job", "2026-11", executor="pool", workers=2,
                    template_version="v", dry_run=False)
    with pytest.raises(RunConflict, match="r1 of job for 2026-11 is still running"):
        index.start_run("r2", "job", "2026-11", executor="pool", workers=2,
                        template_version="v", dry_run=False)
    index.start_run("r3", "job", "2026-12", executor="pool", workers=2,
                    template_version="v", dry_run=False)
    index.start_run("r4", "job", "2026-11", executor="pool", workers=2,
                    template_version="v", dry_run=False, stale_after=timedelta(seconds=-1))
    assert index.get_run("r1")["status"] == "abandoned"
    index.finish_run("r4", "completed", {"counts": {"archived": 3}})
    found = index.get_run("r4")
    assert found["status"] == "completed" and found["report"]["counts"]["archived"] == 3
    assert [r["run_id"] for r in index.list_runs("job")][:1] in (["r4"], ["r3"])


def test_schema_check_without_migration(tmp_path: Path) -> None:
    with pytest.raises(ArchiveError, match="docfactory index upgrade"):
        open_index(f"sqlite:///{tmp_path / 'fresh.db'}", migrate=False)


def test_a_killed_coordinator_does_not_block_the_next_run(tmp_path: Path) -> None:
    import subprocess
    import sys

    from factory.archive.index import run_owner

    index = open_index(f"sqlite:///{tmp_path / 'i.db'}")
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    host = run_owner().rpartition(":")[0]
    index.start_run("r1", "job", "2026-11", executor="pool", workers=1, template_version="v",
                    dry_run=False, owner=f"{host}:{dead}")
    index.start_run("r2", "job", "2026-11", executor="pool", workers=1, template_version="v",
                    dry_run=False, owner=run_owner())
    assert index.get_run("r1")["status"] == "abandoned"
    with pytest.raises(RunConflict):
        index.start_run("r3", "job", "2026-11", executor="pool", workers=1,
                        template_version="v", dry_run=False, owner=run_owner())
    index.start_run("r4", "job", "2026-12", executor="pool", workers=1, template_version="v",
                    dry_run=False, owner="another-host:1")
    with pytest.raises(RunConflict):
        index.start_run("r5", "job", "2026-12", executor="pool", workers=1,
                        template_version="v", dry_run=False, owner=run_owner())
