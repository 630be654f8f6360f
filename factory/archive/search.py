"""Searching archived documents the way compliance asks: filters, pages, totals, facets.

Takes criteria (anything shaped like `Criteria`: `factory.compliance.query.DocumentQuery` is
one) and gives `Document` values (the index row plus its legal-hold flag), oldest first or a
page at a time, read-only (``index.search``). Values are always bound as SQL parameters. A
customer name matches case-insensitively anywhere in the name (``--name jans`` finds
"Jan Jansen"); an account matches exactly, or as a prefix when it ends in ``*``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from typing import Any, Protocol

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.sql import Select

from factory.archive.db import Connections
from factory.archive.numbering import numbered_documents
from factory.archive.rows import Document
from factory.archive.tables import documents

FACETS = ("document_type", "channel", "job")


class Criteria(Protocol):
    """What a document search filters on; ``None`` means any."""

    @property
    def customer(self) -> str | None: ...
    @property
    def document_type(self) -> str | None: ...
    @property
    def job(self) -> str | None: ...
    @property
    def channel(self) -> str | None: ...
    @property
    def run_id(self) -> str | None: ...
    @property
    def date_from(self) -> date | None: ...
    @property
    def date_to(self) -> date | None: ...
    @property
    def revisions(self) -> bool: ...
    @property
    def invoice(self) -> str | None: ...
    @property
    def customer_name(self) -> str | None: ...
    @property
    def account(self) -> str | None: ...
    @property
    def limit(self) -> int: ...


def _period_start() -> Any:
    """The ISO date a document's period starts on: ``2026-11`` -> ``2026-11-01``."""
    return case((func.length(documents.c.period) == 7, documents.c.period + "-01"),
                else_=documents.c.period)


def _like_escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _select(query: Criteria) -> Select[Any]:
    statement = select(documents)
    for column, value in (("customer_id", query.customer), ("document_type", query.document_type),
                          ("job", query.job), ("channel", query.channel),
                          ("run_id", query.run_id)):
        if value is not None:
            statement = statement.where(documents.c[column] == value)
    if query.date_from is not None:
        statement = statement.where(_period_start() >= query.date_from.isoformat())
    if query.date_to is not None:
        statement = statement.where(_period_start() <= query.date_to.isoformat())
    if not query.revisions:
        statement = statement.where(documents.c.superseded_at.is_(None))
    if query.invoice is not None:
        statement = statement.where(numbered_documents(query.invoice))
    if query.customer_name is not None:
        pattern = f"%{_like_escaped(query.customer_name.lower())}%"
        statement = statement.where(
            func.lower(documents.c.customer_name).like(pattern, escape="\\"))
    if query.account is not None:
        if query.account.endswith("*"):
            statement = statement.where(documents.c.account.like(
                f"{_like_escaped(query.account[:-1])}%", escape="\\"))
        else:
            statement = statement.where(documents.c.account == query.account)
    return statement


class DocumentSearch:
    """Read-only searches of the documents table."""

    def __init__(self, db: Connections) -> None:
        self.db = db

    def search(self, query: Criteria) -> tuple[list[Document], bool]:
        """Matching documents, oldest first, at most ``query.limit``; and whether more match."""
        statement = _select(query).order_by(documents.c.created_at, documents.c.document_id) \
            .limit(query.limit + 1)
        with self.db.connect() as conn:
            found = [Document.from_row(row._mapping) for row in conn.execute(statement)]
        return found[:query.limit], len(found) > query.limit

    def iter(self, query: Criteria, page: int = 500, *,
             expired_before: datetime | None = None) -> Iterator[Document]:
        """Every matching document (no limit), read a page at a time in document-id order;
        ``expired_before``: only those whose retention ended before then."""
        base = _select(query)
        if expired_before is not None:
            base = base.where(documents.c.retention_until < expired_before)
        after = ""
        while True:
            statement = base.where(documents.c.document_id > after) \
                .order_by(documents.c.document_id).limit(page)
            with self.db.connect() as conn:
                rows = [Document.from_row(row._mapping) for row in conn.execute(statement)]
            yield from rows
            if len(rows) < page:
                return
            after = rows[-1].document_id

    def totals(self, query: Criteria) -> tuple[int, int]:
        """(count, total bytes) of every matching document, from the index alone."""
        inner = _select(query).subquery()
        with self.db.connect() as conn:
            row = conn.execute(
                select(func.count(), func.coalesce(func.sum(inner.c.byte_size), 0))).one()
        return int(row[0]), int(row[1])

    def load(self, document_id: str) -> Document | None:
        with self.db.connect() as conn:
            row = conn.execute(select(documents).where(
                documents.c.document_id == document_id)).first()
        return Document.from_row(row._mapping) if row else None

    def slot_revisions(self, document: Document) -> list[Document]:
        """Every revision of ``document``'s slot, oldest first, with their hold flags."""
        entry = document.entry
        statement = select(documents).where(
            documents.c.job == entry.job, documents.c.period == entry.period,
            documents.c.record_key == entry.record_key, documents.c.channel == entry.channel,
            documents.c.document_type == entry.document_type,
        ).order_by(documents.c.revision, documents.c.created_at)
        with self.db.connect() as conn:
            return [Document.from_row(row._mapping) for row in conn.execute(statement)]

    def facets(self) -> dict[str, list[str]]:
        """Sorted distinct values of each of `FACETS` (at most 500 each)."""
        found: dict[str, list[str]] = {}
        with self.db.connect() as conn:
            for name in FACETS:
                column: ColumnElement[Any] = documents.c[name]
                found[name] = [row[0] for row in conn.execute(
                    select(column).distinct().order_by(column).limit(500))]
        return found
