"""Line items waiting to be joined to their records, kept on disk.

Takes (key, item) pairs in any order; gives, per key, its items in input order. The items live
in a temporary SQLite file with an index on the key, so joining a line-item file of millions of
rows to its records needs no more memory than one record's items, and neither file has to be
sorted.
"""

from __future__ import annotations

import json
import sqlite3
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any


def scratch_database(tmp_dir: Path | None, name: str
                     ) -> tuple[tempfile.TemporaryDirectory[str], sqlite3.Connection]:
    """A throw-away SQLite file (no journal, no fsync) in its own temporary folder."""
    if tmp_dir is not None:
        tmp_dir.mkdir(parents=True, exist_ok=True)
    folder = tempfile.TemporaryDirectory(prefix=f"docfactory-{name}-", dir=tmp_dir)
    db = sqlite3.connect(Path(folder.name) / f"{name}.db", isolation_level=None)
    db.execute("PRAGMA journal_mode=OFF")
    db.execute("PRAGMA synchronous=OFF")
    return folder, db


class ItemSpill:
    """A keyed, disk-backed multimap of line items."""

    def __init__(self, tmp_dir: Path | None = None) -> None:
        self._dir, self._db = scratch_database(tmp_dir, "items")
        self._db.execute("CREATE TABLE items (key TEXT, seq INTEGER, data TEXT)")
        self.count = 0

    def load(self, pairs: Iterable[tuple[str, Mapping[str, Any]]]) -> None:
        self._db.execute("BEGIN")
        batch: list[tuple[str, int, str]] = []
        for key, item in pairs:
            self.count += 1
            batch.append((key, self.count, json.dumps(item)))
            if len(batch) >= 5000:
                self._db.executemany("INSERT INTO items VALUES (?, ?, ?)", batch)
                batch.clear()
        if batch:
            self._db.executemany("INSERT INTO items VALUES (?, ?, ?)", batch)
        self._db.execute("COMMIT")
        self._db.execute("CREATE INDEX items_key ON items (key, seq)")
        self._db.execute("CREATE TABLE claimed (key TEXT PRIMARY KEY)")

    def take(self, key: str) -> list[dict[str, Any]]:
        """The items of ``key`` in input order; remembers the key as joined."""
        rows = self._db.execute(
            "SELECT data FROM items WHERE key = ? ORDER BY seq", (key,)
        ).fetchall()
        self._db.execute("INSERT OR IGNORE INTO claimed VALUES (?)", (key,))
        return [json.loads(row[0]) for row in rows]

    def orphans(self) -> tuple[int, list[str]]:
        """How many items belong to no record read, and up to ten of their keys."""
        count = self._db.execute(
            "SELECT COUNT(*) FROM items WHERE key NOT IN (SELECT key FROM claimed)"
        ).fetchone()[0]
        keys = [row[0] for row in self._db.execute(
            "SELECT DISTINCT key FROM items WHERE key NOT IN (SELECT key FROM claimed) LIMIT 10"
        )]
        return count, keys

    def close(self) -> None:
        try:
            self._db.close()
        finally:
            self._dir.cleanup()
