"""Fencing and the live-run rule: a stale run or attempt never writes over a live one.

Runs are registered with `start_run` (which gives each run of a job and period a growing
epoch); a run declared abandoned, or one that meets a newer run's claim, gets `FencedError`.
Every test runs on SQLite and on a real PostgreSQL (the `index_url` fixture).
"""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from factory.archive import RunConflict, Slot, open_index
from factory.archive.index import SqlIndex
from factory.errors import FencedError
from factory.models import ArchiveEntry
from tests.archive.test_archive import entry as archive_entry

SLOT = Slot("job", "2026-11", "C1", "pdf", "statement")
STALE = timedelta(seconds=-1)  # every earlier run counts as no longer live


def start(index: SqlIndex, run_id: str, stale_after: timedelta = timedelta(minutes=5),
          job: str = "job", period: str = "2026-11") -> int:
    return index.runs.start_run(run_id, job, period, executor="inline", workers=1,
                                template_version="a" * 64, dry_run=False, owner="",
                                stale_after=stale_after)


def entry(doc_id: str, run_id: str) -> ArchiveEntry:
    return archive_entry(SLOT, doc_id, run_id)


def test_each_run_of_a_job_and_period_gets_a_higher_epoch(index_url: str) -> None:
    index = open_index(index_url)
    assert start(index, "r1") == 1
    with pytest.raises(RunConflict, match="still running"):
        start(index, "r2")
    assert start(index, "r2", STALE) == 2
    assert index.runs.get("r1").status == "abandoned"
    assert start(index, "other", job="job2") == 1  # epochs count per job and period


def test_a_newer_run_takes_an_older_runs_claim_at_once_and_the_older_is_fenced(
        index_url: str) -> None:
    index = open_index(index_url)
    start(index, "r1")
    old = index.claims.claim(SLOT, "r1", holder="task-old")
    start(index, "r2", STALE)  # r1's coordinator is gone: r2 takes over, r1 is abandoned
    new = index.claims.claim(SLOT, "r2", holder="task-new")  # no lease to wait for
    assert new.epoch == 2 and old.epoch == 1
    with pytest.raises(FencedError, match="taken over by run r2"):
        index.claims.complete(old, entry("d-old", "r1"))
    with pytest.raises(FencedError, match="r1 is abandoned"):
        index.claims.claim(Slot("job", "2026-11", "C2", "pdf", "statement"), "r1")
    index.claims.complete(new, entry("d-new", "r2"))
    assert index.documents.find(SLOT).document_id == "d-new"
    assert index.claims.held() == 0


def test_a_stale_run_cannot_take_over_the_live_runs_claim(index_url: str) -> None:
    """Today's bug: `claim` took over another run's claim at once, so a dead coordinator's
    task stole the rerun's claim and the rerun's record 'failed'."""
    index = open_index(index_url)
    start(index, "r1")
    start(index, "r2", STALE)
    live = index.claims.claim(SLOT, "r2")
    with pytest.raises(FencedError):
        index.claims.claim(SLOT, "r1", holder="late-task-of-r1")
    index.claims.complete(live, entry("d2", "r2"))  # the live run's work is untouched
    assert index.documents.find(SLOT).run_id == "r2"


def test_a_claim_of_a_newer_epoch_is_never_taken_by_an_older_one(index_url: str) -> None:
    """Even where the older run still reads 'running' (its row not yet marked: a clock
    skew, a manual edit), the epochs decide."""
    index = open_index(index_url)
    start(index, "r1")
    start(index, "r2", STALE)
    index.claims.claim(SLOT, "r2")
    from sqlalchemy import update

    from factory.archive.tables import runs
    with index.begin() as connection:  # force the abandoned run back to 'running'
        connection.execute(update(runs).where(runs.c.run_id == "r2").values(status="done"))
        connection.execute(update(runs).where(runs.c.run_id == "r1").values(status="running"))
    with pytest.raises(FencedError, match="newer"):
        index.claims.claim(SLOT, "r1")


def test_concurrent_start_runs_never_both_start(index_url: str) -> None:
    """100 rounds of two threads calling the real `start_run` at the same moment: exactly one
    run starts each round (today on PostgreSQL both did, 100 of 100)."""
    index = open_index(index_url)
    rounds, doubles = 100, 0
    for number in range(rounds):
        barrier = threading.Barrier(2)
        started: list[str] = []
        refused: list[str] = []
        period = f"2026-{number:04d}"
        threads = [threading.Thread(target=_start_at_once, args=(
            index, f"r{number}-{side}", period, barrier, started, refused))
            for side in ("a", "b")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        doubles += len(started) > 1
        assert len(started) + len(refused) == 2
    assert doubles == 0


def _start_at_once(index: SqlIndex, run_id: str, period: str, barrier: threading.Barrier,
                   started: list[str], refused: list[str]) -> None:
    barrier.wait()
    try:
        start(index, run_id, period=period)
        started.append(run_id)
    except RunConflict:
        refused.append(run_id)
