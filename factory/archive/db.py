"""The index database: one engine, and connections whose errors come out as `ArchiveError`.

Takes a SQLAlchemy URL (``sqlite:///var/index.db`` by default, ``postgresql://...`` on a
cluster); gives `Database`, the connection factory every repository of the archive shares
(`connect` for reads, `begin` for a transaction). ``postgresql://`` URLs use the psycopg 3
driver; SQLite runs in WAL mode with explicit ``BEGIN IMMEDIATE`` (one writer at a time).
Database errors are translated to `ArchiveError` (retryable when transient, `NoSpaceError`
on a full disk).

A pooled PostgreSQL connection is checked when the pool hands it out, without a round trip
(`_alive`): SQLAlchemy's ``pool_pre_ping`` sent a ``SELECT 1`` per checkout, half of the index's
transactions at scale (docs/scale.md). A connection lost in a way the check cannot see (no FIN
from a vanished host) fails its statement with a retryable error, and SQLAlchemy then
invalidates the pool, so the retry gets a fresh connection.
"""

from __future__ import annotations

import select
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, Protocol

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, DisconnectionError, OperationalError, SQLAlchemyError

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
        kwargs: dict[str, Any] = {}
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
        else:
            event.listen(self.engine, "checkout", _alive)

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


def _alive(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """Refuse a pooled connection the server has closed (restarted, or the backend terminated:
    the server's last message or the end of the stream waits unread on an idle connection);
    SQLAlchemy then opens a new one. Hand-written because SQLAlchemy's only built-in check
    (``pool_pre_ping``) costs a round trip and a transaction per checkout; this costs one
    ``poll`` system call. An idle connection of ours never has anything to read (the index uses
    no LISTEN), so a false alarm costs at most a reconnect."""
    pgconn = getattr(dbapi_connection, "pgconn", None)  # psycopg 3; other drivers: no check
    if pgconn is None:
        return
    try:
        poller = select.poll()
        poller.register(pgconn.socket, select.POLLIN | select.POLLERR | select.POLLHUP)
        pending = poller.poll(0)
    except Exception:  # a closed connection has no socket (psycopg raises): that is the answer
        pending = [(-1, select.POLLHUP)]
    if pending:
        raise DisconnectionError("the server closed this pooled connection")


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
