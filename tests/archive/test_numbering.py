"""Gapless invoice numbers: several processes archive numbered documents at once, some
attempts fail and are retried, some records fail for good; the numbers assigned are exactly
1..N with no gap and no duplicate, on SQLite and on PostgreSQL."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from factory.archive import Slot, open_index
from factory.errors import ArchiveError, RenderError
from factory.models import ArchiveEntry

SERIES = "FV2026"
PROCESSES = 4
RECORDS = 12


def _entry(slot: Slot, number: int) -> ArchiveEntry:
    now = datetime.now(UTC)
    doc_id = f"{slot.record_key}-{number}"
    return ArchiveEntry(
        document_id=doc_id, job=slot.job, run_id="run", period=slot.period,
        record_key=slot.record_key, customer_id="C1", document_type=slot.document_type,
        channel=slot.channel, locale="cs", template_version="v" * 64, page_count=1,
        byte_size=1, sha256="0" * 64, storage_key=f"inv/{slot.record_key}/{doc_id}.pdf",
        media_type="application/pdf", created_at=now, retention_until=now + timedelta(days=1))


def hammer(url: str, worker: int) -> list[tuple[str, int]]:
    """Archive RECORDS numbered documents; every third fails on its first attempt (and is
    retried), every fifth fails for good. Returns (record key, number) of those archived."""
    index = open_index(url, migrate=False)
    archived = []
    try:
        for i in range(RECORDS):
            slot = Slot("inv", "2026-11", f"W{worker}-{i:02d}", "pdf", "invoice")
            for attempt in (1, 2, 3):
                claim = index.claims.claim(slot, f"run-{worker}")

                def build(number: int, i: int = i, attempt: int = attempt, slot: Slot = slot):
                    if i % 5 == 4:
                        raise RenderError("permanent: template error")
                    if i % 3 == 0 and attempt == 1:
                        raise RenderError("transient")
                    return _entry(slot, number), number

                try:
                    _replaced, (_built, number) = index.claims.complete_numbered(
                        claim, SERIES, build)
                except RenderError as exc:
                    index.claims.release(claim)
                    if str(exc).startswith("permanent"):
                        break
                    continue
                archived.append((slot.record_key, number))
                break
    finally:
        index.close()
    return archived


def check_gapless(url: str) -> None:
    open_index(url)  # migrate once, before the workers start
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(PROCESSES, mp_context=context) as pool:
        results = list(pool.map(hammer, [url] * PROCESSES, range(PROCESSES)))
    archived = [pair for result in results for pair in result]
    per_worker = RECORDS - RECORDS // 5  # i % 5 == 4 fail for good
    assert len(archived) == PROCESSES * per_worker
    numbers = sorted(number for _key, number in archived)
    assert numbers == list(range(1, len(archived) + 1)), "gap or duplicate"
    index = open_index(url)
    assert [(key, number) for number, key, _doc in index.numbering.numbers(SERIES)] == \
        sorted(archived, key=lambda pair: pair[1])
    assert index.numbering.next_number(SERIES) == len(archived) + 1
    assert index.documents.count("inv", "2026-11") == len(archived)
    assert index.claims.held() == 0
    # An issued number is never rendered again (a correction is a credit note): refused,
    # nothing built, no number used up, the issued document untouched.
    key, number = archived[0]
    slot = Slot("inv", "2026-11", key, "pdf", "invoice")
    issued = index.documents.find(slot)
    claim = index.claims.claim(slot, "run-force")
    built: list[int] = []
    with pytest.raises(ArchiveError, match=f"number {number} .* issue a credit note"):
        index.claims.complete_numbered(claim, SERIES,
                                       lambda n: (built.append(n), (_entry(slot, n + 1000), n))[1])
    assert built == []
    assert index.numbering.next_number(SERIES) == len(archived) + 1
    assert index.documents.find(slot) == issued


def test_gapless_numbers_with_parallel_workers_on_sqlite(tmp_path: Path) -> None:
    check_gapless(f"sqlite:///{tmp_path / 'index.db'}")


def test_gapless_numbers_with_parallel_workers_on_postgresql(pg_url: str) -> None:
    check_gapless(pg_url)


def test_a_failed_build_uses_up_no_number(tmp_path: Path) -> None:
    index = open_index(f"sqlite:///{tmp_path / 'i.db'}")
    slot = Slot("inv", "2026-11", "I1", "pdf", "invoice")
    claim = index.claims.claim(slot, "run")

    def fail(number: int):
        raise RenderError(f"could not render number {number}")

    with pytest.raises(RenderError, match="number 1"):
        index.claims.complete_numbered(claim, SERIES, fail)
    assert index.numbering.next_number(SERIES) == 1 and index.numbering.numbers(SERIES) == []
    assert index.documents.find(slot) is None
    _old, (_built, number) = index.claims.complete_numbered(
        claim, SERIES, lambda n: (_entry(slot, n), n))
    assert number == 1 and index.numbering.next_number(SERIES) == 2
