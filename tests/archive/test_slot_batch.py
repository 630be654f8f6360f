"""A task's slots claimed in one transaction and completed in one (`Slots.batch`), with every
per-record guarantee kept: a slot held by another live worker or a newer run goes the
per-record way (and is refused there), a stale attempt completing after a newer epoch took
over completes nothing, and one bad record never fails the others. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import event, update

from factory.archive import FileStore, open_index
from factory.archive.keys import SlotKey
from factory.archive.rows import ClaimBusy
from factory.archive.slots import Slots, index_slot
from factory.archive.tables import runs
from factory.errors import ArchiveError, FencedError
from tests.archive.test_slots import entry as one_entry
from tests.archive.test_slots import start

STALE = timedelta(seconds=-1)


def key(record_key: str) -> SlotKey:
    return SlotKey(job="job", period="2026-11", record_key=record_key,
                   document_type="statement", channel="pdf")


KEYS = [key(f"C{n}") for n in range(1, 5)]


def write(slot, run_id: str, storage_key: str | None = None):
    """Store the attempt's objects and return its index row (for ``slot``'s record)."""
    from factory.models import Artifact

    doc_id = slot.document_id()
    name, snapshot = slot.keys(doc_id, "pdf")
    row = dataclasses.replace(one_entry(slot, doc_id, name, snapshot, run_id),
                              record_key=slot.key.record_key,
                              storage_key=storage_key or name)
    slot.store(row, Artifact.of("pdf", "application/pdf", "pdf", b"pdf"),
               Artifact.of("record", "application/json", "json", b"{}"))
    return row


@pytest.fixture
def slots(index_url: str, tmp_path: Path):
    index = open_index(index_url)
    yield Slots(index, FileStore(tmp_path / "store"))
    index.close()


def transactions(slots: Slots) -> list[int]:
    """A counter of the index's transactions from now on."""
    counted = [0]

    def begun(_connection) -> None:
        counted[0] += 1

    event.listen(slots.index.engine, "begin", begun)
    return counted


def test_a_batch_claims_and_completes_a_task_in_two_transactions(slots: Slots) -> None:
    start(slots.index, "r1")
    counted = transactions(slots)
    batch = slots.batch(KEYS, "r1", "task-1", skip_archived=True)
    for k in KEYS:
        assert batch.find(k) is None
        with batch.slot(k, "r1", "task-1") as slot:
            slot.complete_later(write(slot, "r1"))
    assert counted[0] == 1  # one transaction claimed all four (and found none archived)
    assert slots.index.claims.held("r1") == 4  # nothing indexed before the task's end
    assert all(slots.find(k) is None for k in KEYS)
    counted[0] = 0
    assert batch.flush() == []
    assert counted[0] == 1  # one transaction completed all four
    assert [slots.find(k).run_id for k in KEYS] == ["r1"] * 4
    assert slots.index.claims.held() == 0


def test_archived_slots_are_found_unclaimed_and_unused_claims_are_released(
        slots: Slots) -> None:
    start(slots.index, "r1")
    with slots.slot(KEYS[0], "r1") as slot:
        slot.complete(write(slot, "r1"))
    batch = slots.batch(KEYS, "r1", "task-1", skip_archived=True)
    assert batch.find(KEYS[0]).run_id == "r1"
    assert slots.index.claims.held("r1") == 3  # C1 is archived: not claimed
    with batch.slot(KEYS[1], "r1", "task-1") as slot:
        slot.complete_later(write(slot, "r1"))
    assert batch.flush() == []  # C3 and C4 were never opened: their claims are released
    assert slots.index.claims.held() == 0
    assert slots.find(KEYS[1]) is not None and slots.find(KEYS[2]) is None


def test_a_slot_another_live_worker_holds_is_refused_per_record_and_the_others_go_on(
        slots: Slots) -> None:
    start(slots.index, "r1")
    other = slots.index.claims.claim(index_slot(KEYS[1]), "r1", holder="task-other")
    batch = slots.batch(KEYS, "r1", "task-1", skip_archived=True)
    for k in KEYS:
        if k == KEYS[1]:
            with pytest.raises(ClaimBusy), batch.slot(k, "r1", "task-1"):
                pass
            continue
        with batch.slot(k, "r1", "task-1") as slot:
            slot.complete_later(write(slot, "r1"))
    assert batch.flush() == []
    assert slots.find(KEYS[1]) is None
    assert [slots.find(k) is not None for k in KEYS] == [True, False, True, True]
    slots.index.claims.complete(other, write_other(slots, KEYS[1], other))  # still its own
    assert slots.find(KEYS[1]).run_id == "r1"


def write_other(slots: Slots, k: SlotKey, claim):
    with slots.opened(k, claim) as slot:
        row = write(slot, "r1")
        slot.closed = True  # completed by the caller, with the other worker's claim
    return row


def test_a_slot_a_newer_run_holds_is_fenced_per_record_and_the_others_go_on(
        slots: Slots) -> None:
    start(slots.index, "r1")
    start(slots.index, "r2", STALE)
    newer = slots.index.claims.claim(index_slot(KEYS[1]), "r2", holder="task-new")
    with slots.index.begin() as connection:  # r1 reads 'running' again (as in test_fencing)
        connection.execute(update(runs).where(runs.c.run_id == "r2").values(status="done"))
        connection.execute(update(runs).where(runs.c.run_id == "r1").values(status="running"))
    batch = slots.batch(KEYS, "r1", "task-1", skip_archived=True)
    for k in KEYS:
        if k == KEYS[1]:
            with pytest.raises(FencedError, match="newer"), batch.slot(k, "r1", "task-1"):
                pass
            continue
        with batch.slot(k, "r1", "task-1") as slot:
            slot.complete_later(write(slot, "r1"))
    assert batch.flush() == []
    assert [slots.find(k) is not None for k in KEYS] == [True, False, True, True]
    assert slots.index.claims.held() == 1  # the newer run's claim, untouched
    with slots.index.connect() as connection:
        from sqlalchemy import select

        from factory.archive.tables import claims
        assert connection.execute(select(claims.c.token)).scalar_one() == newer.token


def test_a_stale_attempt_completing_a_batch_after_a_newer_epoch_took_over_writes_nothing(
        slots: Slots) -> None:
    start(slots.index, "r1")
    stale = slots.batch(KEYS[:3], "r1", "task-old", skip_archived=True)
    written = {}
    for k in KEYS[:3]:
        with stale.slot(k, "r1", "task-old") as slot:
            written[k] = write(slot, "r1")
            slot.complete_later(written[k])
    start(slots.index, "r2", STALE)  # r1 is abandoned; r2 takes every claim over at once
    live = slots.batch(KEYS[:3], "r2", "task-new", skip_archived=True)
    assert slots.index.claims.held("r2") == 0  # r1's claims: left to the per-record way
    newer = {k: slots.index.claims.claim(index_slot(k), "r2", holder="task-new")
             for k in KEYS[:3]}
    left = stale.flush()
    assert [d.key for d in left] == KEYS[:3]  # refused for every record
    for deferred in left:
        with pytest.raises(FencedError, match="taken over by run r2"):
            deferred.complete()
        deferred.abandon()
    assert all(slots.find(k) is None for k in KEYS[:3])
    for k, claim in newer.items():
        with slots.opened(k, claim) as slot:
            slot.complete(write(slot, "r2"))
    assert live.flush() == []
    assert [slots.find(k).run_id for k in KEYS[:3]] == ["r2"] * 3
    for row in written.values():  # the stale attempt's objects are gone, unindexed
        assert not slots.store.exists(row.storage_key)
    assert slots.index.claims.held() == 0


def test_one_bad_record_rolls_the_batch_back_and_fails_alone_the_others_complete(
        slots: Slots) -> None:
    start(slots.index, "r1")
    with slots.slot(KEYS[3], "r1") as slot:
        taken = write(slot, "r1")
        slot.complete(taken)
    batch = slots.batch(KEYS[:3], "r1", "task-1", skip_archived=True)
    for k in KEYS[:3]:
        with batch.slot(k, "r1", "task-1") as slot:
            # C2's row names a storage key another document has: the index refuses it
            slot.complete_later(write(slot, "r1", taken.storage_key if k == KEYS[1] else None))
    left = batch.flush()
    assert [d.key for d in left] == KEYS[:3]  # the whole transaction rolled back
    failed = []
    for deferred in left:
        try:
            deferred.complete()
        except ArchiveError:
            failed.append(deferred.key)
            deferred.abandon()
    assert failed == [KEYS[1]]
    assert [slots.find(k) is not None for k in KEYS] == [True, False, True, True]
    assert slots.index.claims.held() == 0
