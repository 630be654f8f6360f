"""Transactions on the index database, with SQLAlchemy errors turned into ours.

Takes a `SqlIndex`; gives ``connection(index)`` and ``transaction(index)`` context managers
whose errors are `ArchiveError` (retryable when transient: a lock, a dropped connection), so
the compliance stage and its callers never see a vendor exception.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from factory.archive import SqlIndex
from factory.errors import ArchiveError, RetryableArchiveError


def translate(exc: SQLAlchemyError, where: str) -> ArchiveError:
    text = str(exc).split("\n", 1)[0][:300]
    if isinstance(exc, OperationalError) or getattr(exc, "connection_invalidated", False):
        return RetryableArchiveError(f"index {where}: {text}")
    return ArchiveError(f"index {where}: {text}")


@contextmanager
def connection(index: SqlIndex) -> Iterator[Connection]:
    """A connection for reads."""
    try:
        with index.engine.connect() as conn:
            yield conn
    except SQLAlchemyError as exc:
        raise translate(exc, index.safe_url) from None


@contextmanager
def transaction(index: SqlIndex) -> Iterator[Connection]:
    """A connection in a transaction: committed at the end, rolled back on any error."""
    try:
        with index.engine.begin() as conn:
            yield conn
    except SQLAlchemyError as exc:
        raise translate(exc, index.safe_url) from None
