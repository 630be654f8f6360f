"""The documents table: archived rows, their revisions, withdrawals and plain lookups.

Takes a `Database` (or, inside another repository's transaction, a connection); gives
`ArchiveEntry` values. The only module that writes ``documents`` rows, except for the legal
hold and the retention purge (`factory.archive.holds`). `add_revision` is the step of the claim
protocol (`factory.archive.claims`) that puts a document in: the slot's current row (if any)
is marked superseded by the new one, with one ``document.supersede`` audit entry, inside the
caller's transaction.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Connection, Row

from factory.archive.audit import Actor, append_entry
from factory.archive.db import Connections, now
from factory.archive.rows import (
    Slot,
    Supersession,
    entry_from_row,
    entry_values,
    slot_of,
    slots_where,
)
from factory.archive.tables import documents
from factory.errors import LegalHoldError
from factory.models import ArchiveEntry


def current_row(connection: Connection, slot: Slot) -> Row[Any] | None:
    """The slot's current documents row (with its legal-hold flag), or None."""
    return connection.execute(select(documents).where(slot.current(documents))).first()


def current_rows(connection: Connection, slots: Sequence[Slot]) -> dict[Slot, Row[Any]]:
    """The current documents rows of ``slots`` (those that have one), in one statement."""
    return {slot_of(row): row for row in connection.execute(select(documents).where(
        slots_where(documents, slots), documents.c.superseded_at.is_(None)))}


def add_revision(connection: Connection, slot: Slot, entry: ArchiveEntry,
                 supersede: Supersession | None) -> ArchiveEntry | None:
    """Document row in (the slot's current row, if any, marked superseded by it), one audit
    entry per supersession, inside the caller's transaction; return the superseded row."""
    old = current_row(connection, slot)
    if old is not None and old.legal_hold:
        raise LegalHoldError(f"document {old.document_id} is on legal hold: no revision"
                             " can take its place until it is released")
    if old is not None:
        _supersede(connection, old, entry, supersede, now())
    connection.execute(insert(documents).values(**entry_values(entry)))
    return entry_from_row(old._mapping) if old is not None else None


def add_revisions(connection: Connection,
                  revisions: Sequence[tuple[Slot, ArchiveEntry, Supersession | None]]) -> None:
    """`add_revision` for many slots in the caller's transaction: their current rows read in
    one statement, the new rows inserted in one; `LegalHoldError` (nothing written: the
    caller rolls back) if any current row is on hold."""
    if not revisions:
        return
    current = current_rows(connection, [slot for slot, _entry, _who in revisions])
    moment = now()
    for slot, entry, supersede in revisions:
        old = current.get(slot)
        if old is not None and old.legal_hold:
            raise LegalHoldError(f"document {old.document_id} is on legal hold: no revision"
                                 " can take its place until it is released")
        if old is not None:
            _supersede(connection, old, entry, supersede, moment)
    connection.execute(insert(documents).values(
        [entry_values(entry) for _slot, entry, _who in revisions]))


def _supersede(connection: Connection, old: Row[Any], entry: ArchiveEntry,
               supersede: Supersession | None, moment: datetime) -> None:
    """Mark ``old`` superseded by ``entry``, with one ``document.supersede`` audit entry."""
    who = supersede or Supersession(Actor("system", "system"), "")
    connection.execute(update(documents).where(
        documents.c.document_id == old.document_id).values(
        superseded_at=moment, superseded_by=entry.document_id,
        superseded_actor=who.actor.id[:64], supersede_reason=who.reason))
    append_entry(connection, who.actor, "document.supersede",
                 document_id=old.document_id, run_id=entry.run_id,
                 details={"superseded_by": entry.document_id,
                          "revision": entry.revision, "reason": who.reason})


class DocumentRepository:
    """Lookups of archived documents, and the withdrawal of a slot's current row."""

    def __init__(self, db: Connections) -> None:
        self.db = db

    def find(self, slot: Slot) -> ArchiveEntry | None:
        with self.db.connect() as connection:
            row = current_row(connection, slot)
        return entry_from_row(row._mapping) if row else None

    def revisions(self, slot: Slot) -> list[ArchiveEntry]:
        """Every revision of ``slot``, oldest first (superseded ones included)."""
        with self.db.connect() as connection:
            rows = connection.execute(select(documents).where(slot.where(documents))
                                      .order_by(documents.c.revision))
            return [entry_from_row(row._mapping) for row in rows]

    def get(self, document_id: str) -> ArchiveEntry | None:
        with self.db.connect() as connection:
            row = connection.execute(
                select(documents).where(documents.c.document_id == document_id)).first()
        return entry_from_row(row._mapping) if row else None

    def entries(self, *, revisions: bool = False, **filters: Any) -> Iterator[ArchiveEntry]:
        """Current archived entries matching column equality filters, oldest first; with
        ``revisions``, superseded ones too."""
        query = select(documents).order_by(documents.c.created_at, documents.c.document_id)
        if not revisions:
            query = query.where(documents.c.superseded_at.is_(None))
        for name, value in filters.items():
            if value is not None:
                query = query.where(documents.c[name] == value)
        with self.db.connect() as connection:
            for row in connection.execute(query):
                yield entry_from_row(row._mapping)

    def existing_keys(self, job: str, period: str, channel: str, document_type: str,
                      keys: list[str]) -> set[str]:
        """Which of ``keys`` already have an archived document in this slot family."""
        if not keys:
            return set()
        with self.db.connect() as connection:
            rows = connection.execute(select(documents.c.record_key).where(
                documents.c.job == job, documents.c.period == period,
                documents.c.channel == channel, documents.c.document_type == document_type,
                documents.c.record_key.in_(keys), documents.c.superseded_at.is_(None)))
            return {row[0] for row in rows}

    def count(self, job: str, period: str) -> int:
        with self.db.connect() as connection:
            return int(connection.execute(
                select(func.count()).select_from(documents).where(
                    documents.c.job == job, documents.c.period == period,
                    documents.c.superseded_at.is_(None))).scalar_one())

    def run_totals(self, run_id: str, channel: str) -> tuple[int, int, int]:
        """(documents, pages, bytes) that run ``run_id`` indexed on ``channel``."""
        with self.db.connect() as connection:
            row = connection.execute(select(
                func.count(), func.coalesce(func.sum(documents.c.page_count), 0),
                func.coalesce(func.sum(documents.c.byte_size), 0)).where(
                    documents.c.run_id == run_id, documents.c.channel == channel)).one()
        return int(row[0]), int(row[1]), int(row[2])

    def withdraw(self, slot: Slot, actor: Actor, reason: str) -> ArchiveEntry | None:
        """Mark the current row of ``slot`` superseded with no successor (a print file of a
        batch that no longer exists); its row and objects stay until retention. One audit
        entry ``document.withdraw``; return the row, or None."""
        with self.db.begin() as connection:
            row = current_row(connection, slot)
            if row is None:
                return None
            connection.execute(update(documents).where(
                documents.c.document_id == row.document_id).values(
                superseded_at=now(), superseded_actor=actor.id[:64], supersede_reason=reason))
            append_entry(connection, actor, "document.withdraw", document_id=row.document_id,
                         details={"reason": reason})
        return entry_from_row(row._mapping)

    def produced_by_version(self) -> dict[str, tuple[int, datetime | None]]:
        """Template version -> (documents it produced, when the last one was made)."""
        counts = select(documents.c.template_version, func.count().label("n"),
                        func.max(documents.c.created_at).label("last")) \
            .group_by(documents.c.template_version)
        with self.db.connect() as connection:
            return {row.template_version: (int(row.n), row.last)
                    for row in connection.execute(counts)}

    def known_keys(self, keys: list[str]) -> set[str]:
        """Which of the storage ``keys`` a documents row names (document or record snapshot)."""
        with self.db.connect() as connection:
            known = {row[0] for row in connection.execute(select(documents.c.storage_key)
                     .where(documents.c.storage_key.in_(keys)))}
            known |= {row[0] for row in connection.execute(
                select(documents.c.record_storage_key).where(
                    documents.c.record_storage_key.in_(keys)))}
        return known
