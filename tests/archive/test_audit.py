"""The audit log's hash chain on SQLite and PostgreSQL: appends, concurrent appenders that
must not fork it, and detection of every edit, deletion, insertion and truncation."""

from __future__ import annotations

import itertools
import json
import threading
from pathlib import Path

import pytest
from sqlalchemy import delete, insert, select, update

from factory.archive import open_index
from factory.archive.tables import audit_head, audit_log
from factory.compliance import Actor, AuditLog
from factory.compliance.audit import GENESIS, chain_hash
from factory.errors import ArchiveError, InputError

ALICE = Actor("key:0123456789ab", "compliance")


def sqlite_log(tmp_path: Path) -> AuditLog:
    return AuditLog(open_index(f"sqlite:///{tmp_path / 'index.db'}"))


def fill(log: AuditLog, count: int) -> None:
    for number in range(count):
        log.record(ALICE, "archive.get", document_id=f"doc-{number}",
                   details={"n": number, "text": "Žluťoučký kůň"})


@pytest.mark.fast
def test_entries_chain_from_genesis(tmp_path: Path) -> None:
    log = sqlite_log(tmp_path)
    assert log.verify().ok and log.head() == (0, GENESIS)
    fill(log, 3)
    entries = log.entries()
    assert [e.seq for e in entries] == [1, 2, 3]
    assert entries[0].prev_hash == GENESIS
    for before, after in itertools.pairwise(entries):
        assert after.prev_hash == before.entry_hash
    for entry in entries:
        assert entry.entry_hash == chain_hash(entry.prev_hash, entry.body())
    assert log.head() == (3, entries[-1].entry_hash)
    check = log.verify()
    assert check.ok and check.entries == 3 and check.head_hash == entries[-1].entry_hash
    assert json.loads(entries[0].details)["text"] == "Žluťoučký kůň"
    assert log.entries(document_ids=["doc-1"])[0].seq == 2


def edit(log: AuditLog, seq: int, **values: object) -> None:
    with log.index.engine.begin() as conn:
        conn.execute(update(audit_log).where(audit_log.c.seq == seq).values(**values))


def drop(log: AuditLog, seq: int) -> None:
    with log.index.engine.begin() as conn:
        conn.execute(delete(audit_log).where(audit_log.c.seq == seq))


@pytest.mark.fast
@pytest.mark.parametrize(("tamper", "expected"), [
    (lambda log: edit(log, 3, details='{"n":99}'), ["entry 3 (archive.get by"]),
    (lambda log: edit(log, 2, actor="key:ffffffffffff"), ["entry 2 ("]),
    (lambda log: edit(log, 4, outcome="denied"), ["entry 4 ("]),
    (lambda log: drop(log, 3), ["entry 3 deleted", "entry 4: does not link"]),
    (lambda log: (drop(log, 2), drop(log, 3)), ["entries 2-3 deleted", "entry 4: does not link"]),
    (lambda log: drop(log, 5), ["the newest entries were deleted"]),
    (lambda log: (drop(log, 5), drop(log, 4)), ["the log ends at entry 3 but its head records"
                                                " entry 5"]),
])
def test_any_edit_or_deletion_is_detected(tmp_path: Path, tamper, expected: list[str]) -> None:
    log = sqlite_log(tmp_path)
    fill(log, 5)
    tamper(log)
    check = log.verify()
    assert not check.ok
    for fragment in expected:
        assert any(fragment in problem for problem in check.problems), check.problems


@pytest.mark.fast
def test_a_rehashed_forgery_is_caught_by_the_head_and_an_anchor(tmp_path: Path) -> None:
    log = sqlite_log(tmp_path)
    fill(log, 4)
    anchor = f"{log.head()[0]}:{log.head()[1]}"
    # A forger edits entry 2 and recomputes every hash after it, but not the head row.
    entries = log.entries()
    prev = entries[0].entry_hash
    with log.index.engine.begin() as conn:
        for entry in entries[1:]:
            details = '{"forged":true}' if entry.seq == 2 else entry.details
            forged = type(entry)(**{**entry.__dict__, "details": details, "prev_hash": prev})
            new_hash = chain_hash(prev, forged.body())
            conn.execute(update(audit_log).where(audit_log.c.seq == entry.seq)
                         .values(details=details, prev_hash=prev, entry_hash=new_hash))
            prev = new_hash
    check = log.verify()
    assert [p for p in check.problems if "head records entry 4" in p]
    # ... and if it rewrites the head too, only an anchor kept elsewhere can tell.
    with log.index.engine.begin() as conn:
        conn.execute(update(audit_head).values(entry_hash=prev))
    assert log.verify().ok
    check = log.verify(anchor)
    assert not check.ok and "differs from the anchor" in check.problems[0]
    with pytest.raises(InputError, match="is not SEQ:HASH"):
        log.verify("4:xyz")


@pytest.mark.fast
def test_an_inserted_entry_is_detected(tmp_path: Path) -> None:
    log = sqlite_log(tmp_path)
    fill(log, 2)
    with log.index.engine.begin() as conn:
        row = conn.execute(select(audit_log).where(audit_log.c.seq == 2)).one()._mapping
        conn.execute(insert(audit_log).values(**{**row, "seq": 3, "prev_hash": "f" * 64,
                                                 "entry_hash": "e" * 64}))
    problems = log.verify().problems
    assert any("entry 3: does not link" in p for p in problems)
    assert any("entry 3 (" in p for p in problems)


@pytest.mark.fast
def test_a_missing_head_blocks_appends(tmp_path: Path) -> None:
    log = sqlite_log(tmp_path)
    fill(log, 2)
    with log.index.engine.begin() as conn:
        conn.execute(delete(audit_head))
    with pytest.raises(ArchiveError, match="head record is gone"):
        log.record(ALICE, "archive.get")
    assert not log.verify().ok


def hammer(log_factory, threads: int = 6, each: int = 15) -> None:
    errors: list[BaseException] = []

    def work(number: int) -> None:
        log = log_factory()
        try:
            for item in range(each):
                log.record(Actor(f"key:{number:012d}", "compliance"), "archive.get",
                           details={"thread": number, "item": item})
        except BaseException as exc:
            errors.append(exc)
        finally:
            log.index.close()

    workers = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert errors == []


def test_concurrent_appenders_never_fork_the_chain_sqlite(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'index.db'}"
    open_index(url).close()
    hammer(lambda: AuditLog(open_index(url, migrate=False)))
    log = AuditLog(open_index(url))
    check = log.verify()
    assert check.ok and check.entries == 6 * 15, check.problems


def test_concurrent_appenders_never_fork_the_chain_postgresql(pg_url: str) -> None:
    index = open_index(pg_url)  # the migrations, audit tables included, on PostgreSQL
    with index.engine.begin() as conn:
        conn.execute(delete(audit_log))
        conn.execute(delete(audit_head))
    hammer(lambda: AuditLog(open_index(pg_url, migrate=False)))
    log = AuditLog(index)
    check = log.verify()
    assert check.ok and check.entries == 6 * 15, check.problems
    edit(log, 17, details="{}")
    assert any("entry 17 (" in p for p in log.verify().problems)
