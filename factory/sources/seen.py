"""Duplicate-key detection in constant memory.

Takes record keys in input order; gives, for a key seen before, the position of its first
occurrence. Keys live in a temporary SQLite file, not in a Python set, so a run over millions of
records keeps the coordinator's memory flat.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from factory.models import Position
from factory.sources.spill import scratch_database


class SeenKeys:
    """Remembers which record keys a run has already met, on disk."""

    def __init__(self, tmp_dir: Path | None = None) -> None:
        self._dir, self._db = scratch_database(tmp_dir, "keys")
        self._db.execute(
            "CREATE TABLE seen (key TEXT PRIMARY KEY, source TEXT, idx INTEGER, line INTEGER)"
        )
        self._db.execute("BEGIN")
        self._pending = 0

    def first_seen(self, key: str, position: Position) -> Position | None:
        """Record ``key``; return where it was first seen if it is a duplicate, else None."""
        try:
            self._db.execute(
                "INSERT INTO seen VALUES (?, ?, ?, ?)",
                (key, position.source, position.index, position.line),
            )
        except sqlite3.IntegrityError:
            row = self._db.execute(
                "SELECT source, idx, line FROM seen WHERE key = ?", (key,)
            ).fetchone()
            return Position(source=row[0], index=row[1], line=row[2])
        self._pending += 1
        if self._pending >= 5000:
            self._db.execute("COMMIT")
            self._db.execute("BEGIN")
            self._pending = 0
        return None

    def close(self) -> None:
        try:
            self._db.close()
        finally:
            self._dir.cleanup()

    def __enter__(self) -> SeenKeys:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
