"""The index database: one engine, and connections whose errors come out as `ArchiveError`.

Takes a SQLAlchemy URL (``sqlite:///var/index.db`` by default, ``postgresql://...`` on a
cluster); gives `Database`, the connection factory every repository of the archive shares
(`connect` for reads, `begin` for a transaction). ``postgresql://`` URLs use the psycopg 3
driver; SQLite runs in WAL mode with explicit ``BEGIN IMMEDIATE`` (one writer at a time).
Database errors are translated to `ArchiveError` (retryable when transient, `NoSpaceError`
on a full disk).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, Protocol

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, OperationalError, SQLAlchemyError

from factory.errors import (
    ArchiveError,
    ConfigError,
    NoSpaceError,
    RetryableArchiveError,
    is_no_space,
)
from factory.urls import mask_url

#: Bare dialect names mapped to the driver installed with the `postgres` extra.
_DRIVERS = {"postgresql": "postgresql+psycopg", "postgres": "postgresql+psycopg"}


def now() -> datetime:
    return datetime.now(UTC)


class Connections(Protocol):
    """What a repository needs of the database: translated connections."""

    def connect(self) -> Translated: ...

    def begin(self) -> Translated: ...


class Database:
    """The engine of one index database (see the module docstring)."""

    def __init__(self, url: str) -> None:
        self.url = url
        try:
            parsed = make_url(url)
            if parsed.drivername in _DRIVERS:
                parsed = parsed.set(drivername=_DRIVERS[parsed.drivername])
        except ArgumentError:
            raise ConfigError(f"index URL {mask_url(url)!r} is not a database URL") from None
        self.safe_url = mask_url(parsed.render_as_string(hide_password=False))
        kwargs: dict[str, Any] = {"pool_pre_ping": True}
        if parsed.get_backend_name() == "sqlite":
            if parsed.database and parsed.database != ":memory:":
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            kwargs["connect_args"] = {"timeout": 60}
        try:
            self.engine: Engine = create_engine(parsed, **kwargs)
        except (ArgumentError, ImportError) as exc:
            raise ConfigError(f"index {self.safe_url}: {exc}") from None
        if parsed.get_backend_name() == "sqlite":
            # pysqlite's own transaction handling breaks SAVEPOINT and lets two writers
            # deadlock; SQLAlchemy's documented recipe: autocommit driver, explicit BEGIN.
            event.listen(self.engine, "connect", _sqlite_pragmas)
            event.listen(self.engine, "begin", _sqlite_begin)

    def connect(self) -> Translated:
        """A connection for reads; SQLAlchemy errors come out as `ArchiveError`."""
        return Translated(self.engine.connect(), self.safe_url)

    def begin(self) -> Translated:
        """A connection in a transaction (committed at the end, rolled back on an error);
        SQLAlchemy errors come out as `ArchiveError` (retryable when transient)."""
        return Translated(self.engine.begin(), self.safe_url)

    def dispose(self) -> None:
        self.engine.dispose()


def sqlite_file(url: str) -> Path | None:
    """The database file of a SQLite ``url`` (None: another database, or in memory)."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return None
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(str(parsed.database))


class Translated:
    """Context manager around a connection that turns SQLAlchemy errors into ours."""

    def __init__(self, context: Any, where: str) -> None:
        self.context = context
        self.where = where

    def __enter__(self) -> Connection:
        try:
            connection: Connection = self.context.__enter__()
        except SQLAlchemyError as exc:
            raise translate(exc, self.where) from None
        return connection

    def __exit__(self, kind: Any, exc: Any, tb: Any) -> Literal[False]:
        try:
            self.context.__exit__(kind, exc, tb)
        except SQLAlchemyError as error:
            raise translate(error, self.where) from None
        if isinstance(exc, SQLAlchemyError):
            raise translate(exc, self.where) from None
        return False


def translate(exc: SQLAlchemyError, where: str) -> ArchiveError:
    if is_no_space(exc):
        return NoSpaceError(f"index {where}: {short(exc)}")
    if isinstance(exc, OperationalError) or getattr(exc, "connection_invalidated", False):
        return RetryableArchiveError(f"index {where}: {short(exc)}")
    return ArchiveError(f"index {where}: {short(exc)}")


def short(exc: Exception) -> str:
    return str(exc).split("\n", 1)[0][:300]


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=60000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
    # SQLite's own lower() folds ASCII only ("ČERNÝ" stays "ČERNý"); the archive search by
    # name compares lower(customer_name) with the lower-cased query, as PostgreSQL does.
    dbapi_connection.create_function("lower", 1, _lower, deterministic=True)


def _lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def _sqlite_begin(connection: Connection) -> None:
    connection.exec_driver_sql("BEGIN IMMEDIATE")
