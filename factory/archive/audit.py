"""The audit log's chain: one append-only, hash-chained table, owned by the archive.

Takes a connection inside the caller's transaction and who did what; gives the appended
`AuditEntry`. Only this module writes ``audit_log`` and ``audit_head``: compliance verifies the
chain (`factory.compliance.audit`) from what `AuditRepository` (``index.audit``) reads, and the
index appends to it in the same transaction as the change it records (a superseded revision, a
legal hold, a purge), so a change and its entry commit together or not at all.

Each entry stores ``prev_hash`` (the previous entry's hash; 64 zeros for the first) and
``entry_hash = SHA-256(prev_hash + "\\n" + canonical JSON of the entry)``. Appends are
serialised on the head row (``SELECT ... FOR UPDATE`` on PostgreSQL, ``BEGIN IMMEDIATE`` on
SQLite, and an advisory lock on PostgreSQL before the first entry exists).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection

from factory.archive.tables import audit_head, audit_log, documents
from factory.errors import ArchiveError

if TYPE_CHECKING:
    from factory.archive.db import Connections

GENESIS = "0" * 64
HEAD_ID = 1


@dataclass(frozen=True)
class Actor:
    """Who acts: ``key:<key id>`` with the key's role, or ``cli:<user>`` with role shell."""

    id: str
    role: str


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    at: datetime
    actor: str
    role: str
    action: str
    outcome: str
    document_id: str | None
    run_id: str | None
    details: str
    prev_hash: str
    entry_hash: str

    def body(self) -> str:
        """The canonical JSON the hash covers: every field but the two hashes."""
        return canonical({
            "seq": self.seq, "at": self.at.astimezone(UTC).isoformat(timespec="microseconds"),
            "actor": self.actor, "role": self.role, "action": self.action,
            "outcome": self.outcome, "document_id": self.document_id, "run_id": self.run_id,
            "details": self.details,
        })

    def computed_hash(self) -> str:
        return chain_hash(self.prev_hash, self.body())

    def as_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq, "at": self.at.isoformat(), "actor": self.actor, "role": self.role,
            "action": self.action, "outcome": self.outcome, "document_id": self.document_id,
            "run_id": self.run_id, "details": json.loads(self.details),
            "prev_hash": self.prev_hash, "entry_hash": self.entry_hash,
        }


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=str)


def chain_hash(prev_hash: str, body: str) -> str:
    return hashlib.sha256(f"{prev_hash}\n{body}".encode()).hexdigest()


def audit_entry_from_row(row: Any) -> AuditEntry:
    m = row._mapping
    return AuditEntry(m["seq"], m["at"], m["actor"], m["role"], m["action"], m["outcome"],
                      m["document_id"], m["run_id"], m["details"], m["prev_hash"],
                      m["entry_hash"])


def append_entry(conn: Connection, actor: Actor, action: str, *, outcome: str = "ok",
           document_id: str | None = None, run_id: str | None = None,
           details: Mapping[str, Any] | None = None) -> AuditEntry:
    """Append one entry inside the caller's transaction (so it commits with the change)."""
    if conn.dialect.name == "postgresql":
        # Serialise appenders even before the head row exists (the very first entry).
        conn.exec_driver_sql("SELECT pg_advisory_xact_lock(7261005)")
    head = conn.execute(select(audit_head).where(audit_head.c.id == HEAD_ID)
                        .with_for_update()).first()
    if head is None:
        last = conn.execute(select(audit_log.c.seq).order_by(audit_log.c.seq.desc())
                            .limit(1)).scalar_one_or_none()
        if last is not None:
            raise ArchiveError("the audit log has entries but its head record is gone: it"
                               " has been tampered with; run `docfactory audit verify`")
        seq, prev = 0, GENESIS
    else:
        seq, prev = int(head.seq), head.entry_hash
    entry = AuditEntry(
        seq=seq + 1, at=datetime.now(UTC), actor=actor.id[:64], role=actor.role[:16],
        action=action[:32], outcome=outcome[:16], document_id=document_id, run_id=run_id,
        details=canonical(dict(details or {})), prev_hash=prev, entry_hash="")
    entry = AuditEntry(**{**entry.__dict__, "entry_hash": entry.computed_hash()})
    conn.execute(insert(audit_log).values(**entry.__dict__))
    if head is None:
        conn.execute(insert(audit_head).values(id=HEAD_ID, seq=entry.seq,
                                               entry_hash=entry.entry_hash))
    else:
        moved = conn.execute(update(audit_head).where(
            audit_head.c.id == HEAD_ID, audit_head.c.seq == seq,
            audit_head.c.entry_hash == prev).values(
            seq=entry.seq, entry_hash=entry.entry_hash)).rowcount
        if moved != 1:
            raise ArchiveError("audit log head moved during an append (raced)")
    return entry


@dataclass(frozen=True)
class Append:
    """One entry to append (`AuditRepository.append_all`)."""

    action: str
    document_id: str | None = None
    run_id: str | None = None
    details: Mapping[str, Any] | None = None
    outcome: str = "ok"


class AuditRepository:
    """Appends in their own transaction, and reads of the log and its head."""

    def __init__(self, db: Connections) -> None:
        self.db = db

    def append(self, actor: Actor, action: str, *, outcome: str = "ok",
               document_id: str | None = None, run_id: str | None = None,
               details: Mapping[str, Any] | None = None) -> AuditEntry:
        """Append one entry in its own transaction."""
        with self.db.begin() as conn:
            return append_entry(conn, actor, action, outcome=outcome, document_id=document_id,
                                run_id=run_id, details=details)

    def append_all(self, actor: Actor, entries: Sequence[Append]) -> list[AuditEntry]:
        """Append ``entries`` in one transaction: all of them, or none."""
        with self.db.begin() as conn:
            return [append_entry(conn, actor, e.action, outcome=e.outcome,
                                 document_id=e.document_id, run_id=e.run_id,
                                 details=e.details) for e in entries]

    def entries(self, *, document_ids: list[str] | None = None, after: int = 0,
                limit: int | None = None, newest_first: bool = False) -> list[AuditEntry]:
        """Entries in sequence order, optionally only those about ``document_ids``."""
        statement = select(audit_log).where(audit_log.c.seq > after)
        if document_ids is not None:
            if not document_ids:
                return []
            found: list[AuditEntry] = []
            for start in range(0, len(document_ids), 500):
                chunk = document_ids[start:start + 500]
                with self.db.connect() as conn:
                    found.extend(audit_entry_from_row(row) for row in conn.execute(
                        statement.where(audit_log.c.document_id.in_(chunk))))
            found.sort(key=lambda e: e.seq, reverse=newest_first)
            return found[:limit] if limit else found
        order = audit_log.c.seq.desc() if newest_first else audit_log.c.seq
        statement = statement.order_by(order)
        if limit:
            statement = statement.limit(limit)
        with self.db.connect() as conn:
            return [audit_entry_from_row(row) for row in conn.execute(statement)]

    def head(self) -> tuple[int, str]:
        """(seq, hash) the head row records; (0, GENESIS) before the first entry."""
        with self.db.connect() as conn:
            row = conn.execute(select(audit_head).where(audit_head.c.id == HEAD_ID)).first()
        return (int(row.seq), row.entry_hash) if row else (0, GENESIS)

    def scan(self, page: int = 1000) -> Iterator[AuditEntry]:
        """Every entry in sequence order, read a page at a time."""
        after = 0
        while True:
            with self.db.connect() as conn:
                rows = [audit_entry_from_row(row) for row in conn.execute(
                    select(audit_log).where(audit_log.c.seq > after)
                    .order_by(audit_log.c.seq).limit(page))]
            yield from rows
            if len(rows) < page:
                return
            after = rows[-1].seq

    def search(self, *, document: str | None = None, customer: str | None = None,
               actor: str | None = None, action: str | None = None,
               limit: int = 100) -> tuple[list[AuditEntry], bool]:
        """Entries matching every filter given (``customer``: about any document of theirs),
        newest first, at most ``limit``; and whether more match."""
        statement = select(audit_log)
        if document is not None:
            statement = statement.where(audit_log.c.document_id == document)
        if customer is not None:
            statement = statement.where(audit_log.c.document_id.in_(
                select(documents.c.document_id).where(documents.c.customer_id == customer)))
        if actor is not None:
            statement = statement.where(audit_log.c.actor == actor)
        if action is not None:
            statement = statement.where(audit_log.c.action == action)
        statement = statement.order_by(audit_log.c.seq.desc()).limit(limit + 1)
        with self.db.connect() as conn:
            found = [audit_entry_from_row(row) for row in conn.execute(statement)]
        return found[:limit], len(found) > limit
