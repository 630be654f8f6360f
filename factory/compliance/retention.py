"""Legal hold and retention: hold or release a document, purge what is past retention.

Takes the index, the store, the audit log and an `Actor`; gives the changed documents. Every
change is written in the same transaction as its audit entry. A hold is also passed to the
store when it supports one (`HoldableStore`: an S3 store sets and clears the Object Lock legal
hold of every object the document's index row names, PDF and record snapshot alike, when its
bucket has Object Lock; otherwise the hold lives in the index alone); the file store keeps
every object read-only already. `purge_expired` deletes only documents
whose retention has passed and that are not on hold, re-checking both in the deleting
statement itself, so a hold placed a moment earlier always wins; it is a dry run unless told.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, runtime_checkable

from factory.archive import Store
from factory.archive.protocols import ArchiveView
from factory.compliance.audit import Actor, AuditLog
from factory.compliance.documents import Document, iter_documents, load
from factory.compliance.query import DocumentQuery
from factory.errors import ArchiveError


@runtime_checkable
class HoldableStore(Protocol):
    """A store that can itself refuse to delete an object on legal hold."""

    def set_legal_hold(self, key: str, hold: bool) -> None:
        """Place or clear the hold of ``key`` (nothing, where the store cannot hold)."""
        ...

    def legal_hold(self, key: str) -> bool | None:
        """Whether the store holds ``key``; None where it cannot hold."""
        ...


def document_keys(document: Document) -> list[str]:
    """Every stored object the index row names: each ``*storage_key`` field (the document,
    its record snapshot, and any object a later schema adds, such as a separate e-invoice)."""
    return [value for name, value in document.entry.as_dict().items()
            if name.endswith("storage_key") and value]


def set_hold(index: ArchiveView, store: Store, audit: AuditLog, actor: Actor, doc_id: str,
             hold: bool, reason: str = "") -> tuple[Document, bool]:
    """Place (``hold``) or release a legal hold; return the document and whether it changed."""
    document = load(index, doc_id)
    if hold and isinstance(store, HoldableStore):
        for key in document_keys(document):  # store first: a failure leaves the index unchanged
            store.set_legal_hold(key, True)
    changed = index.holds.set_hold(document.document_id, hold, actor, reason)
    if not hold and isinstance(store, HoldableStore):
        for key in document_keys(document):  # index first: a failure leaves the store holding
            store.set_legal_hold(key, False)
    return load(index, document.document_id), changed


@dataclass
class PurgeResult:
    dry_run: bool
    expired: list[Document] = field(default_factory=list)
    kept_on_hold: list[Document] = field(default_factory=list)
    purged: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def bytes(self) -> int:
        return sum(d.entry.byte_size for d in self.expired)


def purge_expired(index: ArchiveView, store: Store, audit: AuditLog, actor: Actor, now: datetime,
                  execute: bool = False) -> PurgeResult:
    """Find (and with ``execute`` delete) documents past retention and not on hold."""
    result = PurgeResult(dry_run=not execute)
    every_revision = DocumentQuery(revisions=True)  # superseded ones expire like any other
    for document in iter_documents(index, every_revision, expired_before=now):
        (result.kept_on_hold if document.legal_hold else result.expired).append(document)
    if not execute:
        return result
    for document in result.expired:
        entry = document.entry
        if not index.holds.purge(document.document_id, now, actor, details={
                "job": entry.job, "period": entry.period, "customer_id": entry.customer_id,
                "storage_key": entry.storage_key, "sha256": entry.sha256,
                "retention_until": entry.retention_until.isoformat()}):
            result.warnings.append(f"{document.document_id}: kept (placed on hold or"
                                   " changed while purging)")
            continue
        result.purged.append(document.document_id)
        for key in document_keys(document):
            try:
                store.delete(key)
            except ArchiveError as exc:
                result.warnings.append(f"{document.document_id}: index row purged, but {exc};"
                                       " `archive verify` lists it as an orphan")
    return result
