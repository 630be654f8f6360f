"""Archived documents as compliance sees them: found in the index, read and proven from the store.

Takes a `SqlIndex` (and a `Store` for bytes) and a `DocumentQuery` or a document id; gives
`Document` values (the index row plus its legal-hold flag, `factory.archive.rows.Document`),
read through ``index.search``, and verified bytes. Every read of
stored bytes is checked against the SHA-256 recorded in the index before it is handed out; a
mismatch is an `IntegrityError`, never silently returned data.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from factory.archive import Store
from factory.archive.protocols import HasSearch
from factory.archive.rows import Document
from factory.archive.store import sha256_of
from factory.compliance import query as q
from factory.errors import ArchiveError, IntegrityError, NotFoundError


def search(index: HasSearch, query: q.DocumentQuery) -> tuple[list[Document], bool]:
    """Matching documents, oldest first, at most ``query.limit``; and whether more match."""
    return index.search.search(query)


def iter_documents(index: HasSearch, query: q.DocumentQuery | None = None,
                   page: int = 500, *, expired_before: datetime | None = None
                   ) -> Iterator[Document]:
    """Every matching document (no limit), read a page at a time in document-id order;
    ``expired_before``: only those whose retention ended before then."""
    return index.search.iter(query or q.DocumentQuery(), page, expired_before=expired_before)


def totals(index: HasSearch, query: q.DocumentQuery) -> tuple[int, int]:
    """(count, total bytes) of every matching document, from the index alone."""
    return index.search.totals(query)


def load(index: HasSearch, doc_id: str) -> Document:
    """The document ``doc_id``; `InputError` if it is not an id, `NotFoundError` if unknown."""
    doc_id = q.document_id(doc_id)
    found = index.search.load(doc_id)
    if found is None:
        raise NotFoundError(f"no document {doc_id} in the index")
    return found


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


__all__ = ["Document", "fetch", "iter_documents", "load", "read_verified", "search",
           "totals"]


def fetch(index: HasSearch, store: Store, doc_id: str) -> tuple[Document, bytes]:
    """The document and its exact bytes, verified against the recorded SHA-256."""
    document = load(index, doc_id)
    data = read_verified(store, document.entry.storage_key, document.entry.sha256,
                         f"document {document.document_id}")
    return document, data
