"""Legal holds and the retention purge: the only changes to a documents row after it is in.

Takes a document id and an `Actor`; gives whether it changed. Each change commits in one
transaction with its audit entry. `purge` re-checks "past retention" and "not on hold" in the
deleting statement itself, so a hold placed a moment earlier always wins.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update

from factory.archive.audit import Actor, append_entry
from factory.archive.db import Connections
from factory.archive.letters import forget_sent_as
from factory.archive.tables import documents
from factory.errors import NotFoundError


class HoldRepository:
    """``legal_hold`` flags, and deleting rows past retention."""

    def __init__(self, db: Connections) -> None:
        self.db = db

    def set_hold(self, document_id: str, hold: bool, actor: Actor, reason: str) -> bool:
        """Place or release the hold; audit ``archive.hold``/``archive.release``; True if
        the flag changed."""
        with self.db.begin() as conn:
            row = conn.execute(select(documents.c.legal_hold).where(
                documents.c.document_id == document_id)).first()
            if row is None:
                raise NotFoundError(f"no document {document_id} in the index")
            changed = bool(row.legal_hold) != hold
            if changed:
                conn.execute(update(documents).where(
                    documents.c.document_id == document_id).values(legal_hold=hold))
            append_entry(conn, actor, "archive.hold" if hold else "archive.release",
                         document_id=document_id,
                         details={"reason": reason[:500], "changed": changed})
        return changed

    def purge(self, document_id: str, now: datetime, actor: Actor,
              details: Mapping[str, Any]) -> bool:
        """Delete the row if it is still past retention and not on hold, with one
        ``archive.purge`` audit entry, and the ``letters`` rows sent as it; False (nothing
        changed) otherwise."""
        with self.db.begin() as conn:
            gone = conn.execute(delete(documents).where(
                documents.c.document_id == document_id,
                documents.c.legal_hold.is_(False),
                documents.c.retention_until < now)).rowcount
            if gone != 1:
                return False
            # An interactive letter sent as this document keeps the record and the blocks it
            # was written from: they go with the document, in the same transaction.
            letter_rows = forget_sent_as(conn, document_id)
            append_entry(conn, actor, "archive.purge", document_id=document_id,
                         details={**details, "letters": letter_rows} if letter_rows
                         else details)
        return True
