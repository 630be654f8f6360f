"""The archive: stored objects plus the index that finds and proves them.

Takes artifacts, storage keys and index rows; gives back bytes and entries. `open_store` and
`open_index` choose the backend by URL scheme (``file://``, ``sqlite:///``, and on a cluster
``s3://`` and ``postgresql://``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from factory.archive.keys import (
    delivery_key,
    document_id,
    document_key,
    record_snapshot_key,
    template_snapshot_key,
)
from factory.archive.store import FileStore, MemoryStore, Store, open_store, register_store

if TYPE_CHECKING:
    from factory.archive.db import sqlite_file
    from factory.archive.index import (
        Claim,
        ClaimBusy,
        RunConflict,
        Slot,
        SqlIndex,
        open_index,
    )

#: Names re-exported from `factory.archive.index` on first use (PEP 562): importing the package
#: for a store or a key does not import SQLAlchemy (`docfactory --help` stays fast).
_FROM_INDEX = ("Claim", "ClaimBusy", "RunConflict", "Slot", "SqlIndex", "open_index")


def __getattr__(name: str) -> Any:
    if name in _FROM_INDEX or name == "sqlite_file":
        from factory.archive import db, index

        value = getattr(db if name == "sqlite_file" else index, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "Claim",
    "ClaimBusy",
    "FileStore",
    "MemoryStore",
    "RunConflict",
    "Slot",
    "SqlIndex",
    "Store",
    "delivery_key",
    "document_id",
    "document_key",
    "open_index",
    "open_store",
    "record_snapshot_key",
    "register_store",
    "sqlite_file",
    "template_snapshot_key",
]
