"""The claim protocol: one record's slot taken, its document put in, the slot given back.

Takes slots, run ids and holders; gives `Claim` values (``index.claims``). The idempotency
protocol for one record is::

    existing = index.documents.find(slot)     # archived already? then skip (unless --force)
    claim = index.claims.claim(slot, run_id, holder=task_id)  # before any work: take the slot
    ... render, store.put(attempt_key) ...    # a name unique to this attempt (`claim.attempt`)
    index.claims.complete(claim, entry)       # one transaction: claim checked, row in, claim out

A crash anywhere leaves either nothing, or a claim that the next attempt takes over, and at
worst objects under a dead attempt's name that no row points to; never two documents, never
bytes written over a document's. A claim held by a live worker of the same run makes `claim`
raise `ClaimBusy` (retryable) for ``lease`` (`DEFAULT_LEASE`); a stale claim, or one whose
``holder`` is the same unit of work (a Celery task redelivered after its worker died: same task
id) is taken over at once. Executors keep a task's time limit under the lease, so a live
worker's claim never goes stale.

Fencing: every run of a job and period gets an ``epoch`` one higher than the last (`start_run`,
under a lock), and its claims carry it. A claim of an older run is taken over at once; a run
that is no longer "running" (a newer run declared it abandoned), or that meets a claim of a
newer run, gets `FencedError`: it stops that record without writing, and neither run counts the
record failed. `complete` checks the claim in the transaction that inserts the row, so a stale
attempt can never make its bytes the document.

Revisions: completing a slot that already has a current row inserts revision N+1 and marks N
superseded by it (`factory.archive.documents.add_revision`). Numbered documents (invoices) use
`complete_numbered`: the next number of the series is read with the series row locked, the
document is rendered and stored *inside* that transaction, and the document row, the number's
row and the incremented sequence commit together. A render or store failure, a crash or a lost
claim rolls the transaction back, so no number is ever used up without an archived document
(no gaps), and the lock plus the primary key (series, number) make a duplicate impossible. The
price: documents of one series are rendered one at a time (on SQLite, one index writer at a
time). Only this module writes the ``claims`` table.

Per task: `claim_many` and `complete_many` do the same for the records of one task in one
transaction each (used by `factory.archive.slots.SlotBatch`). They take only what is plain (free
slots; claims still held) and leave every other slot or claim to `claim` and `complete`, so the
rules above are written once.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from factory.archive import numbering
from factory.archive.db import Connections, now
from factory.archive.deliveries import mark_sent
from factory.archive.documents import add_revision, add_revisions, current_row, current_rows
from factory.archive.rows import (
    Claim,
    ClaimBusy,
    Slot,
    Supersession,
    attempt_name,
    entry_from_row,
    slot_of,
    slots_where,
)
from factory.archive.runs import live_epoch
from factory.archive.tables import claims
from factory.errors import ArchiveError, FencedError
from factory.models import ArchiveEntry

#: How long a claim of a live worker blocks other workers of the same run.
DEFAULT_LEASE = timedelta(minutes=15)


def check_claim(connection: Connection, claim: Claim) -> None:
    """Raise unless ``claim`` still holds its slot (row locked until the transaction ends)."""
    held = connection.execute(select(claims.c.token, claims.c.run_id).where(
        claim.slot.where(claims)).with_for_update()).first()
    if held is not None and held.token == claim.token:
        return
    if held is not None and held.run_id != claim.run_id:
        raise FencedError(f"{claim.slot.record_key}: the claim was taken over by run"
                          f" {held.run_id}; run {claim.run_id}'s attempt is discarded"
                          " unwritten")
    raise ArchiveError(f"{claim.slot.record_key}: the claim was taken over by"
                       " another worker; this attempt's result is discarded")


def _drop(connection: Connection, claim: Claim) -> None:
    connection.execute(delete(claims).where(claim.slot.where(claims),
                                            claims.c.token == claim.token))


def _drop_many(connection: Connection, taken: Sequence[Claim]) -> None:
    if taken:
        connection.execute(delete(claims).where(
            slots_where(claims, [claim.slot for claim in taken]),
            claims.c.token.in_([claim.token for claim in taken])))


def _insert_free(connection: Connection, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Insert the claims ``rows`` (slots no claim held when read) in one statement; when
    another worker claimed one of them meanwhile, one by one: the rows inserted."""
    if not rows:
        return []
    try:
        with connection.begin_nested():
            connection.execute(insert(claims).values(rows))
        return rows
    except IntegrityError:
        pass
    inserted = []
    for row in rows:
        try:
            with connection.begin_nested():
                connection.execute(insert(claims).values(**row))
            inserted.append(row)
        except IntegrityError:
            continue  # taken just now: left to `claim`, which says ClaimBusy
    return inserted


class ClaimRepository:
    """Claims of slots, and the completions that turn them into documents."""

    def __init__(self, db: Connections) -> None:
        self.db = db

    def claim(self, slot: Slot, run_id: str, lease: timedelta = DEFAULT_LEASE,
              holder: str | None = None) -> Claim:
        """Take ``slot`` for ``run_id``; raise `ClaimBusy` if a live worker of it holds it,
        `FencedError` if the run is no longer live or a newer run holds the slot.

        ``holder`` names the unit of work (a Celery task id): a claim left by the same holder
        is taken over at once, because the only way to meet it is a redelivery of that unit
        after its worker died (or a duplicate delivery, which the claim token then defeats).
        A run id that `start_run` never registered (a unit test's) claims with epoch 0.
        """
        token = secrets.token_hex(16)
        moment = now()
        taken_from = None
        with self.db.begin() as connection:
            epoch = live_epoch(connection, run_id, slot)
            held = connection.execute(
                select(claims).where(slot.where(claims)).with_for_update()).first()
            if held is None:
                try:
                    with connection.begin_nested():
                        connection.execute(insert(claims).values(
                            **slot.values(), run_id=run_id, token=token, claimed_at=moment,
                            holder=holder, epoch=epoch))
                except IntegrityError:
                    raise ClaimBusy(f"{slot.record_key}: taken by another worker just now") \
                        from None
            else:
                if held.run_id != run_id and held.epoch > epoch:
                    raise FencedError(f"{slot.record_key}: run {held.run_id} (newer) holds this"
                                      f" record; run {run_id} leaves it to that run")
                stale = held.claimed_at + lease < moment
                same_work = holder is not None and held.holder == holder
                if held.run_id == run_id and not stale and not same_work:
                    raise ClaimBusy(f"{slot.record_key}: being processed by another worker"
                                    f" since {held.claimed_at:%H:%M:%S}")
                taken = connection.execute(
                    update(claims).where(slot.where(claims), claims.c.token == held.token)
                    .values(run_id=run_id, token=token, claimed_at=moment, holder=holder,
                            epoch=epoch)
                ).rowcount
                if taken != 1:
                    raise ClaimBusy(f"{slot.record_key}: taken by another worker just now")
                taken_from = attempt_name(held.token)
            row = current_row(connection, slot)
        return Claim(slot, run_id, token, entry_from_row(row._mapping) if row else None,
                     bool(row.legal_hold) if row else False, epoch, taken_from)

    def claim_many(self, slots: Sequence[Slot], run_id: str, holder: str | None = None,
                   skip_archived: bool = False) -> dict[Slot, Claim | ArchiveEntry]:
        """Claim the free ones of ``slots`` (a task's records) in one transaction: the run's
        epoch checked once, the slots' claims and current rows read in one statement each,
        the new claims inserted in one. Gives each slot claimed its `Claim` and, with
        ``skip_archived``, each slot that has a current row that row, unclaimed. A slot that a
        claim holds (of any run), or that another worker claimed at the same moment, is left
        out: the caller claims it with `claim`, whose rules (lease, holder, epochs) decide.
        `FencedError` when the run is no longer live."""
        wanted = list(dict.fromkeys(slots))
        if not wanted:
            return {}
        moment = now()
        found: dict[Slot, Claim | ArchiveEntry] = {}
        with self.db.begin() as connection:
            epoch = live_epoch(connection, run_id, wanted[0])
            held = {slot_of(row) for row in connection.execute(
                select(claims.c.job, claims.c.period, claims.c.record_key, claims.c.channel,
                       claims.c.document_type).where(slots_where(claims, wanted))
                .with_for_update())}
            current = current_rows(connection, wanted)
            free = []
            for slot in wanted:
                if skip_archived and slot in current:
                    found[slot] = entry_from_row(current[slot]._mapping)
                elif slot not in held:
                    free.append(slot)
            tokens = {secrets.token_hex(16): slot for slot in free}
            rows = [{**slot.values(), "run_id": run_id, "token": token, "claimed_at": moment,
                     "holder": holder, "epoch": epoch} for token, slot in tokens.items()]
            for row in _insert_free(connection, rows):
                slot = tokens[row["token"]]
                old = current.get(slot)
                found[slot] = Claim(slot, run_id, row["token"],
                                    entry_from_row(old._mapping) if old else None,
                                    bool(old.legal_hold) if old else False, epoch)
        return found

    def complete_many(self, completions: Sequence[tuple[Claim, ArchiveEntry,
                                                        Supersession | None]]) -> set[str]:
        """Complete many claims in one transaction: each claim checked as `complete` checks it
        (its row locked), the document rows put in and the claims dropped in one statement
        each. Returns the tokens of the claims completed. A claim no longer held (fenced,
        taken over) is left out; any failure (a legal hold, a database error) rolls the whole
        transaction back and completes none. The caller completes what is left one by one
        with `complete`, which then says why per record: one bad record never fails the
        chunk's others."""
        if not completions:
            return set()
        try:
            with self.db.begin() as connection:
                held = {(slot_of(row), row.token) for row in connection.execute(
                    select(claims).where(slots_where(
                        claims, [claim.slot for claim, _entry, _who in completions]))
                    .with_for_update())}
                valid = [(claim, entry, who) for claim, entry, who in completions
                         if (claim.slot, claim.token) in held]
                add_revisions(connection, [(claim.slot, entry, who)
                                           for claim, entry, who in valid])
                _drop_many(connection, [claim for claim, _entry, _who in valid])
        except ArchiveError:
            return set()
        return {claim.token for claim, _entry, _who in valid}

    def complete(self, claim: Claim, entry: ArchiveEntry,
                 delivery: Mapping[str, Any] | None = None,
                 supersede: Supersession | None = None) -> ArchiveEntry | None:
        """Insert the document row and drop the claim atomically; return the revision that
        it superseded (or None), marked superseded by ``entry`` with ``supersede``'s who/why.

        With ``delivery`` (``key`` and the transport's ``message_id``), the same transaction
        marks that send "sent"."""
        with self.db.begin() as connection:
            check_claim(connection, claim)
            old = add_revision(connection, claim.slot, entry, supersede)
            _drop(connection, claim)
            if delivery is not None:
                mark_sent(connection, delivery)
            return old

    def complete_numbered(self, claim: Claim, series: str,
                          build: Callable[[int], tuple[ArchiveEntry, Any]]
                          ) -> tuple[None, tuple[ArchiveEntry, Any]]:
        """Assign the next gapless number of ``series`` and archive in one transaction.

        ``build(number)`` renders and stores the document and returns (entry, anything); it
        runs with the series locked. A slot that has a number already is refused: an issued
        number is never rendered again (a correction is a credit note, with its own number).
        Returns None (nothing is ever superseded) and what ``build`` returned.
        """
        slot = claim.slot
        with self.db.begin() as connection:
            check_claim(connection, claim)
            kept = numbering.issued(connection, slot)
            if kept is not None:
                raise ArchiveError(f"{slot.record_key}: number {kept.number} of series"
                                   f" {kept.series} was issued (document {kept.document_id});"
                                   " it is never rendered again: issue a credit note instead")
            number = numbering.lock_sequence(connection, series)
            built = build(number)
            check_claim(connection, claim)
            numbering.assign(connection, series, number, slot, built[0].document_id)
            add_revision(connection, slot, built[0], None)
            _drop(connection, claim)
        return None, built

    def release(self, claim: Claim) -> None:
        """Give a slot back after a failure, so a later attempt starts clean."""
        with self.db.begin() as connection:
            _drop(connection, claim)

    def release_many(self, taken: Sequence[Claim]) -> None:
        """`release` for many claims, in one statement."""
        with self.db.begin() as connection:
            _drop_many(connection, taken)

    def release_held_by(self, run_id: str, holder: str) -> int:
        """Drop every claim ``holder`` (a unit of work cut off mid-record) holds for ``run_id``;
        return how many. Only its own unit of work may call this: a claim is only a lock, so
        dropping it never loses a document, it lets the next attempt start clean."""
        with self.db.begin() as connection:
            return int(connection.execute(delete(claims).where(
                claims.c.run_id == run_id, claims.c.holder == holder)).rowcount or 0)

    def held(self, run_id: str | None = None) -> int:
        """How many claims are held (by ``run_id``, or by anyone)."""
        query = select(func.count()).select_from(claims)
        if run_id:
            query = query.where(claims.c.run_id == run_id)
        with self.db.connect() as connection:
            return int(connection.execute(query).scalar_one())
