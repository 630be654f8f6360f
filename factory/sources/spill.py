"""Line items waiting to be joined to their records, kept on disk.

Takes (key, item) pairs in any order; gives, per key, its items in input order. The items live
in a temporary SQLite file with an index on the key, so joining a line-item file of millions of
rows to its records needs no more memory than one record's items, and neither file has to be
sorted.

Scratch folders (`ScratchFolder`) hold a lock while their process lives; `sweep_scratch`, called
when a run starts, removes those of runs that died without cleaning up (kill -9).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

PREFIX = "docfactory-"
LOCK = ".owner.lock"
#: A scratch folder younger than this may still be getting its lock file: never swept.
SWEEP_GRACE_SECONDS = 60.0


class ScratchFolder(tempfile.TemporaryDirectory):  # type: ignore[type-arg]
    """A temporary folder that holds an exclusive `flock` on its ``.owner.lock`` while its
    process lives: the kernel drops the lock when the process dies, even by kill -9, so
    `sweep_scratch` can tell a dead run's folder from a live one."""

    def __init__(self, prefix: str, dir: Path | None) -> None:
        super().__init__(prefix=prefix, dir=dir)
        self._lock = os.open(Path(self.name) / LOCK, os.O_CREAT | os.O_RDWR, 0o600)
        fcntl.flock(self._lock, fcntl.LOCK_EX)

    def cleanup(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self._lock)
        super().cleanup()


def sweep_scratch(tmp_dir: Path) -> list[Path]:
    """Remove the scratch folders (``docfactory-items-*``, ``docfactory-keys-*``) that no
    living process owns: left by a run killed with -9. Returns what was removed."""
    removed: list[Path] = []
    if not tmp_dir.is_dir():
        return removed
    for folder in tmp_dir.glob(f"{PREFIX}*-*"):
        if folder.is_dir() and _abandoned(folder):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


def _abandoned(folder: Path) -> bool:
    try:
        fd = os.open(folder / LOCK, os.O_RDWR)
    except FileNotFoundError:  # an older version's folder, or one being made right now
        try:
            return time.time() - folder.stat().st_mtime > SWEEP_GRACE_SECONDS
        except OSError:
            return False
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False  # held: its run is alive
    finally:
        os.close(fd)
    return True


def scratch_database(tmp_dir: Path | None, name: str
                     ) -> tuple[tempfile.TemporaryDirectory[str], sqlite3.Connection]:
    """A throw-away SQLite file (no journal, no fsync) in its own temporary folder."""
    if tmp_dir is not None:
        tmp_dir.mkdir(parents=True, exist_ok=True)
    folder = ScratchFolder(prefix=f"{PREFIX}{name}-", dir=tmp_dir)
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
