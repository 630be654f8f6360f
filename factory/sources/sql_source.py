"""SQL databases through SQLAlchemy: any URL it supports, a SQLite file by default.

Takes a URL, a parent query and optionally a line-item query with the column that joins it to
the parent key; gives a `RawRecord` per parent row, streamed with a server-side cursor where the
driver has one. Line items are fetched per batch of parents with ``WHERE key IN (...)``, so
memory stays at one batch; ``items_order_by`` columns set the order of each record's items
(otherwise the database's order). The URL's password never
appears in a message or a position.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import bindparam, create_engine, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from factory.errors import SourceError
from factory.models import Position, RawRecord, Reject
from factory.urls import mask_url

BATCH = 500


def safe_url(url: str) -> str:
    """The URL with its password hidden, for messages (`factory.urls.mask_url`)."""
    try:
        make_url(url)
    except ArgumentError:
        return "<invalid database URL>"
    return mask_url(url)


class SqlSource:
    """Records from a SQL query, optionally joined to line items from a second query."""

    def __init__(
        self,
        url: str,
        query: str,
        key: str,
        items_query: str | None = None,
        items_key: str | None = None,
        items_field: str = "items",
        items_order_by: list[str] | None = None,
    ) -> None:
        self.url = url
        self.query = query
        self.key = key
        self.items_query = items_query
        self.items_key = items_key
        self.items_field = items_field
        self.items_order_by = list(items_order_by or [])
        self.name = f"sql:{safe_url(url)}"

    def _engine(self) -> Engine:
        try:
            return create_engine(self.url)
        except (ArgumentError, SQLAlchemyError, ImportError) as exc:
            raise SourceError(f"{self.name}: cannot open the database: {exc}") from None

    def columns(self) -> list[str]:
        engine = self._engine()
        try:
            with engine.connect() as conn:
                result = conn.execute(text(f"SELECT * FROM ({self.query}) AS q WHERE 1 = 0"))
                return list(result.keys())
        except SQLAlchemyError as exc:
            raise SourceError(f"{self.name}: the query failed: {_short(exc)}") from None
        finally:
            engine.dispose()

    def count(self) -> int | None:
        engine = self._engine()
        try:
            with engine.connect() as conn:
                return int(conn.execute(
                    text(f"SELECT COUNT(*) FROM ({self.query}) AS q")).scalar_one())
        except SQLAlchemyError:
            return None
        finally:
            engine.dispose()

    def records(self) -> Iterator[RawRecord | Reject]:
        engine = self._engine()
        try:
            with engine.connect() as conn, engine.connect() as items_conn:
                try:
                    result = conn.execution_options(stream_results=True, yield_per=BATCH).execute(
                        text(self.query))
                except SQLAlchemyError as exc:
                    raise SourceError(f"{self.name}: the query failed: {_short(exc)}") from None
                columns = list(result.keys())
                if self.key not in columns:
                    raise SourceError(
                        f"{self.name}: the query has no column {self.key!r}"
                        f" (it returns {', '.join(columns)})")
                index = 0
                for rows in result.partitions(BATCH):
                    batch = [dict(zip(columns, row, strict=True)) for row in rows]
                    items = self._items_for(items_conn, batch) if self.items_query else None
                    for data in batch:
                        index += 1
                        if items is not None:
                            data[self.items_field] = items.get(str(data[self.key]), [])
                        yield RawRecord(Position(self.name, index), data)
        finally:
            engine.dispose()

    def _items_for(self, conn: Any, batch: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
        keys = [str(row[self.key]) for row in batch]
        order = ", ".join(f"i.{column}" for column in self.items_order_by)
        statement = text(
            f"SELECT * FROM ({self.items_query}) AS i WHERE CAST(i.{self.items_key} AS TEXT)"
            " IN :keys" + (f" ORDER BY {order}" if order else "")
        ).bindparams(bindparam("keys", expanding=True))
        try:
            result = conn.execute(statement, {"keys": keys})
        except SQLAlchemyError as exc:
            raise SourceError(f"{self.name}: the items query failed: {_short(exc)}") from None
        columns = list(result.keys())
        grouped: dict[str, list[dict[str, Any]]] = {}
        for row in result:
            item = dict(zip(columns, row, strict=True))
            grouped.setdefault(str(item.pop(self.items_key)), []).append(item)
        return grouped


def _short(exc: Exception) -> str:
    return str(exc).split("\n", 1)[0]
