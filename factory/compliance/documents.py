"""Archived documents as compliance sees them: found in the index, read and proven from the store.

Takes a `SqlIndex` (and a `Store` for bytes) and a `DocumentQuery` or a document id; gives
`Document` values (the index row plus its legal-hold flag) and verified bytes. Every read of
stored bytes is checked against the SHA-256 recorded in the index before it is handed out; a
mismatch is an `IntegrityError`, never silently returned data.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, exists, false, func, or_, select
from sqlalchemy.sql import Select

from factory.archive import SqlIndex, Store
from factory.archive.index import entry_from_row
from factory.archive.store import sha256_of
from factory.archive.tables import document_numbers, documents
from factory.compliance import query as q
from factory.errors import ArchiveError, IntegrityError, NotFoundError
from factory.models import ArchiveEntry


@dataclass(frozen=True)
class Document:
    """One archived document: its index row and whether it is on legal hold."""

    entry: ArchiveEntry
    legal_hold: bool

    @property
    def document_id(self) -> str:
        return self.entry.document_id

    @property
    def file_name(self) -> str:
        """``<document id>.<ext>``: the name a download gets (storage keys also carry the
        attempt that wrote the object, which means nothing to a reader)."""
        key = self.entry.storage_key.rsplit("/", 1)[-1]
        return f"{self.entry.document_id}.{key.rsplit('.', 1)[-1]}" if "." in key else key

    def as_dict(self) -> dict[str, Any]:
        """JSON-safe: every index field, datetimes in ISO 8601 UTC."""
        values = self.entry.as_dict()
        for name, value in values.items():
            if isinstance(value, datetime):
                values[name] = value.isoformat()
        values["legal_hold"] = self.legal_hold
        return values


def _document(row: Any) -> Document:
    return Document(entry_from_row(row._mapping), bool(row._mapping["legal_hold"]))


def _period_start() -> Any:
    """The ISO date a document's period starts on: ``2026-11`` -> ``2026-11-01``."""
    return case((func.length(documents.c.period) == 7, documents.c.period + "-01"),
                else_=documents.c.period)


def _select(query: q.DocumentQuery) -> Select[Any]:
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
        statement = statement.where(_numbered(query.invoice))
    return statement


def _numbered(text: str) -> Any:
    """The documents (every channel) of the invoice numbered ``text`` in the numbering table."""
    n = document_numbers
    pairs = q.invoice_candidates(text)
    if not pairs:
        return false()
    return exists(select(n.c.number).where(
        n.c.job == documents.c.job, n.c.period == documents.c.period,
        n.c.record_key == documents.c.record_key, n.c.document_type == documents.c.document_type,
        or_(*(and_(n.c.series == series, n.c.number == number) for series, number in pairs))))


def search(index: SqlIndex, query: q.DocumentQuery) -> tuple[list[Document], bool]:
    """Matching documents, oldest first, at most ``query.limit``; and whether more match."""
    statement = _select(query).order_by(documents.c.created_at, documents.c.document_id) \
        .limit(query.limit + 1)
    with index.connect() as conn:
        found = [_document(row) for row in conn.execute(statement)]
    return found[:query.limit], len(found) > query.limit


def iter_documents(index: SqlIndex, query: q.DocumentQuery | None = None,
                   page: int = 500, *, where: tuple[Any, ...] = ()) -> Iterator[Document]:
    """Every matching document (no limit), read a page at a time in document-id order;
    ``where``: more SQL conditions on the documents table."""
    base = _select(query or q.DocumentQuery()).where(*where)
    after = ""
    while True:
        statement = base.where(documents.c.document_id > after) \
            .order_by(documents.c.document_id).limit(page)
        with index.connect() as conn:
            rows = [_document(row) for row in conn.execute(statement)]
        yield from rows
        if len(rows) < page:
            return
        after = rows[-1].document_id


def totals(index: SqlIndex, query: q.DocumentQuery) -> tuple[int, int]:
    """(count, total bytes) of every matching document, from the index alone."""
    inner = _select(query).subquery()
    with index.connect() as conn:
        count, size = conn.execute(
            select(func.count(), func.coalesce(func.sum(inner.c.byte_size), 0))).one()
    return int(count), int(size)


def load(index: SqlIndex, doc_id: str) -> Document:
    """The document ``doc_id``; `InputError` if it is not an id, `NotFoundError` if unknown."""
    doc_id = q.document_id(doc_id)
    with index.connect() as conn:
        row = conn.execute(select(documents).where(documents.c.document_id == doc_id)).first()
    if row is None:
        raise NotFoundError(f"no document {doc_id} in the index")
    return _document(row)


def read_verified(store: Store, key: str, expected: str | None, what: str) -> bytes:
    """The bytes at ``key``, checked against ``expected`` (when known)."""
    try:
        data = store.get(key)
    except ArchiveError as exc:
        raise exc.__class__(f"{what}: cannot be read from the store: {exc}") from None
    if expected is not None:
        actual = sha256_of(data)
        if actual != expected:
            raise IntegrityError(f"{what}: the stored object {key} has SHA-256 {actual}, but"
                                 f" {expected} was recorded when it was archived; it has been"
                                 " altered or damaged")
    return data


def fetch(index: SqlIndex, store: Store, doc_id: str) -> tuple[Document, bytes]:
    """The document and its exact bytes, verified against the recorded SHA-256."""
    document = load(index, doc_id)
    data = read_verified(store, document.entry.storage_key, document.entry.sha256,
                         f"document {document.document_id}")
    return document, data
