"""The ``letters`` table: interactive letters, their four-eyes review and what was sent.

Takes and gives `LetterRow` values (``index.letters``). A letter is written once (`add`, with
its ``letter.submit`` audit entry in the same transaction) and then only moves forward, each
move an ``UPDATE ... WHERE status = <the status it was read in>`` so that two reviewers, or a
reviewer and a stale page, can never both win: the loser gets `LetterConflict` (409).

    pending ──approve (not the author)──► approved ──sent──► sent
       └──────reject (not the author)───► rejected    └─failed─► failed ──sent──► sent

A letter that needs no second person is added ``approved``. The review is audited in the
transaction that records it (``letter.approve`` / ``letter.reject``); the author is refused
in the statement itself (``author != reviewer``), not only by the caller.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Connection

from factory.archive.audit import Actor, append_entry
from factory.archive.db import Connections
from factory.archive.rows import _Row
from factory.archive.tables import letters
from factory.errors import ConfigError, NotFoundError, PermissionDeniedError

PENDING, APPROVED, REJECTED, SENT, FAILED = "pending", "approved", "rejected", "sent", "failed"
STATUSES = (PENDING, APPROVED, REJECTED, SENT, FAILED)


def forget_sent_as(conn: Connection, document_id: str) -> int:
    """Delete the letters sent as ``document_id`` (in the caller's transaction: the retention
    purge of that document); how many there were."""
    return int(conn.execute(delete(letters).where(letters.c.document_id == document_id))
               .rowcount)


class LetterConflict(ConfigError):
    """The letter is no longer in the state the action needs (someone else acted first)."""


@dataclass(frozen=True, slots=True)
class LetterRow(_Row):
    letter_id: str
    job: str
    record_key: str
    customer_id: str
    status: str
    four_eyes: bool
    author: str
    author_role: str
    created_at: datetime
    content: str
    content_sha256: str
    updated_at: datetime
    reviewer: str | None = None
    reviewed_at: datetime | None = None
    review_reason: str | None = None
    document_id: str | None = None
    run_id: str | None = None
    reason: str | None = None


class LetterRepository:
    def __init__(self, db: Connections) -> None:
        self.db = db

    def add(self, row: LetterRow, details: dict[str, Any]) -> None:
        """Insert the letter and its ``letter.submit`` audit entry in one transaction."""
        with self.db.begin() as conn:
            conn.execute(insert(letters).values(**row.as_dict()))
            append_entry(conn, Actor(row.author, row.author_role), "letter.submit",
                         details={"letter_id": row.letter_id, **details})

    def get(self, letter_id: str) -> LetterRow | None:
        with self.db.connect() as conn:
            row = conn.execute(select(letters).where(letters.c.letter_id == letter_id)).first()
        return LetterRow.from_row(row._mapping) if row else None

    def where(self, statuses: Sequence[str] = STATUSES, limit: int = 200,
              newest_first: bool = False) -> list[LetterRow]:
        """Letters in ``statuses``, oldest first (the queue) or newest first."""
        order = (letters.c.created_at.desc(), letters.c.letter_id.desc()) if newest_first \
            else (letters.c.created_at, letters.c.letter_id)
        with self.db.connect() as conn:
            return [LetterRow.from_row(row._mapping) for row in conn.execute(
                select(letters).where(letters.c.status.in_(list(statuses)))
                .order_by(*order).limit(limit))]

    def review(self, letter_id: str, reviewer: Actor, approve: bool, reason: str) -> LetterRow:
        """Approve or reject a pending letter as ``reviewer`` (never its author), audited."""
        action = "letter.approve" if approve else "letter.reject"
        now = datetime.now(UTC)
        with self.db.begin() as conn:
            found = conn.execute(select(letters).where(letters.c.letter_id == letter_id)
                                 ).first()
            if found is None:
                raise NotFoundError(f"no letter {letter_id}")
            if found.author == reviewer.id:
                raise PermissionDeniedError(f"letter {letter_id} was written by you; a second"
                                            " person must approve or reject it")
            changed = conn.execute(update(letters).where(
                letters.c.letter_id == letter_id, letters.c.status == PENDING,
                letters.c.author != reviewer.id).values(
                    status=APPROVED if approve else REJECTED, reviewer=reviewer.id,
                    reviewed_at=now, review_reason=reason[:1000], updated_at=now)).rowcount
            if changed != 1:
                raise LetterConflict(f"letter {letter_id} is {found.status}, not pending:"
                                     " someone else has reviewed it")
            append_entry(conn, reviewer, action, details={
                "letter_id": letter_id, "job": found.job, "record_key": found.record_key,
                "author": found.author, "reason": reason[:500]})
            row = conn.execute(select(letters).where(letters.c.letter_id == letter_id)).one()
        return LetterRow.from_row(row._mapping)

    def settle(self, letter_id: str, sent: bool, *, document_id: str | None,
               run_id: str | None, reason: str | None) -> LetterRow:
        """Record the send's result of an approved (or failed, tried again) letter."""
        now = datetime.now(UTC)
        with self.db.begin() as conn:
            changed = conn.execute(update(letters).where(
                letters.c.letter_id == letter_id,
                letters.c.status.in_([APPROVED, FAILED])).values(
                    status=SENT if sent else FAILED, document_id=document_id, run_id=run_id,
                    reason=reason[:2000] if reason else None, updated_at=now)).rowcount
            row = conn.execute(select(letters).where(letters.c.letter_id == letter_id)).first()
        if row is None:
            raise NotFoundError(f"no letter {letter_id}")
        if changed != 1:
            raise LetterConflict(f"letter {letter_id} is {row.status}: it is not waiting to be"
                                 " sent")
        return LetterRow.from_row(row._mapping)
