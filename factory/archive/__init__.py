"""The archive: stored objects plus the index that finds and proves them.

Takes artifacts, storage keys and index rows; gives back bytes and entries. `open_store` and
`open_index` choose the backend by URL scheme (``file://``, ``sqlite:///``, and on a cluster
``s3://`` and ``postgresql://``).
"""

from factory.archive.db import sqlite_file
from factory.archive.index import Claim, ClaimBusy, RunConflict, Slot, SqlIndex, open_index
from factory.archive.keys import (
    delivery_key,
    document_id,
    document_key,
    record_snapshot_key,
    template_snapshot_key,
)
from factory.archive.store import FileStore, MemoryStore, Store, open_store, register_store

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

# ops: registers the scheduler's table (schedule_firings) on the index metadata.
from factory.archive import schedule as _schedule  # noqa: F401
