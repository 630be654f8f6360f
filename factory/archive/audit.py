"""The audit log's chain: one append-only, hash-chained table, owned by the archive.

Takes a connection inside the caller's transaction and who did what; gives the appended
`AuditEntry`. Only this module writes ``audit_log`` and ``audit_head``: compliance reads and
verifies the chain (`factory.compliance.audit`), and the index appends to it in the same
transaction as the change it records (a superseded revision, a run start), so a change and
its entry commit together or not at all.

Each entry stores ``prev_hash`` (the previous entry's hash; 64 zeros for the first) and
``entry_hash = SHA-256(prev_hash + "\\n" + canonical JSON of the entry)``. Appends are
serialised on the head row (``SELECT ... FOR UPDATE`` on PostgreSQL, ``BEGIN IMMEDIATE`` on
SQLite, and an advisory lock on PostgreSQL before the first entry exists).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection

from factory.archive.tables import audit_head, audit_log
from factory.errors import ArchiveError

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
