"""The audit trail: an append-only, hash-chained log in the index database.

Takes a `SqlIndex` (whose ``index.audit`` repository owns the tables) and, per entry, who did
what (an `Actor`, an action, an outcome, the document or run it concerned and JSON details);
gives `AuditEntry` values and `verify`, which proves the chain intact or names every entry
that was edited, deleted or inserted.

Each entry stores ``prev_hash`` (the previous entry's hash; 64 zeros for the first) and
``entry_hash = SHA-256(prev_hash + "\\n" + canonical JSON of the entry)``. Editing an entry
breaks its own hash; deleting one breaks the next entry's link and the sequence; deleting the
newest entries leaves ``audit_head`` (updated in the same transaction as every append) pointing
past the end. Appends are serialised on the head row (``SELECT ... FOR UPDATE`` on PostgreSQL,
``BEGIN IMMEDIATE`` on SQLite) and ``prev_hash`` is unique, so concurrent writers can never fork
the chain. Someone who can rewrite the whole database can rewrite the whole chain: record the
head that ``verify`` prints somewhere else and pass it back as an anchor to prove the past.
API keys never enter the log: an actor is ``key:<key id>`` or ``cli:<user>``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from factory.archive.audit import GENESIS, Actor, Append, AuditEntry, chain_hash
from factory.archive.protocols import HasAudit
from factory.errors import ArchiveError, InputError


@dataclass
class AuditCheck:
    """The result of `AuditLog.verify`."""

    entries: int = 0
    head_seq: int = 0
    head_hash: str = GENESIS
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


class AuditLog:
    """The audit trail of one index database."""

    def __init__(self, index: HasAudit) -> None:
        self.index = index

    def record(self, actor: Actor, action: str, *, outcome: str = "ok",
               document_id: str | None = None, run_id: str | None = None,
               details: Mapping[str, Any] | None = None) -> AuditEntry:
        """Append one entry in its own transaction (retried if another writer raced it)."""
        for attempt in range(5):
            try:
                return self.index.audit.append(actor, action, outcome=outcome,
                                               document_id=document_id, run_id=run_id,
                                               details=details)
            except ArchiveError as exc:
                if not _raced(exc) or attempt == 4:
                    raise
                time.sleep(0.01 * (attempt + 1))
        raise AssertionError("unreachable")

    def record_all(self, actor: Actor, entries: Sequence[Append]) -> list[AuditEntry]:
        """Append ``entries`` in one transaction (all or none), e.g. one per exported document
        and one for the bundle."""
        return self.index.audit.append_all(actor, entries)

    def entries(self, *, document_ids: list[str] | None = None, after: int = 0,
                limit: int | None = None, newest_first: bool = False) -> list[AuditEntry]:
        """Entries in sequence order, optionally only those about ``document_ids``."""
        return self.index.audit.entries(document_ids=document_ids, after=after, limit=limit,
                                        newest_first=newest_first)

    def head(self) -> tuple[int, str]:
        return self.index.audit.head()

    def _scan(self, page: int = 1000) -> Iterator[AuditEntry]:
        return self.index.audit.scan(page)

    def verify(self, anchor: str | None = None, max_problems: int = 50) -> AuditCheck:
        """Walk the whole chain; name every break. ``anchor`` is ``SEQ:HASH`` from earlier."""
        anchor_seq, anchor_hash = parse_anchor(anchor) if anchor else (None, None)
        check = AuditCheck()
        expected_seq, prev_hash = 1, GENESIS
        anchor_seen = False

        def problem(text: str) -> None:
            if len(check.problems) < max_problems:
                check.problems.append(text)

        for entry in self._scan():
            check.entries += 1
            if entry.seq != expected_seq:
                if entry.seq > expected_seq:
                    gone = (f"entry {expected_seq}" if entry.seq == expected_seq + 1 else
                            f"entries {expected_seq}-{entry.seq - 1}")
                    problem(f"{gone} deleted (the log jumps from {expected_seq - 1} to"
                            f" {entry.seq})")
                else:
                    problem(f"entry {entry.seq} out of order")
            if entry.prev_hash != prev_hash:
                problem(f"entry {entry.seq}: does not link to the entry before it (prev_hash"
                        f" {entry.prev_hash[:12]}, expected {prev_hash[:12]}): an entry before"
                        " it was deleted, edited or inserted")
            if entry.computed_hash() != entry.entry_hash:
                problem(f"entry {entry.seq} ({entry.action} by {entry.actor} at"
                        f" {entry.at:%Y-%m-%d %H:%M:%S}): its content does not match its hash;"
                        " it was edited")
            if anchor_seq is not None and entry.seq == anchor_seq:
                anchor_seen = True
                if not entry.entry_hash.startswith(anchor_hash or ""):
                    problem(f"entry {entry.seq}: hash {entry.entry_hash[:12]} differs from the"
                            f" anchor {anchor_hash}: the log was rewritten up to there")
            expected_seq, prev_hash = entry.seq + 1, entry.entry_hash
        last_seq = expected_seq - 1
        check.head_seq, check.head_hash = last_seq, prev_hash
        stored_seq, stored_hash = self.head()
        if (stored_seq, stored_hash) != (last_seq, prev_hash):
            if stored_seq > last_seq:
                problem(f"the log ends at entry {last_seq} but its head records entry"
                        f" {stored_seq}: the newest entries were deleted")
            else:
                problem(f"the head records entry {stored_seq} ({stored_hash[:12]}) but the log"
                        f" ends at entry {last_seq} ({prev_hash[:12]})")
        if anchor_seq is not None and not anchor_seen:
            problem(f"anchor entry {anchor_seq} is not in the log (it ends at {last_seq})")
        return check


def parse_anchor(text: str) -> tuple[int, str]:
    seq, _, digest = str(text).strip().partition(":")
    digest = digest.lower()
    if not seq.isdigit() or not 12 <= len(digest) <= 64 \
            or not all(c in "0123456789abcdef" for c in digest):
        raise InputError(f"anchor {text!r} is not SEQ:HASH as printed by `docfactory audit verify`")
    return int(seq), digest


def _raced(exc: ArchiveError) -> bool:
    text = str(exc)
    return exc.retryable or "raced" in text or "UNIQUE" in text.upper() \
        or "duplicate key" in text


__all__ = ["GENESIS", "Actor", "Append", "AuditCheck", "AuditEntry", "AuditLog", "chain_hash",
           "parse_anchor"]
