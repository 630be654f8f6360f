"""Keep long-term evidence alive: add a document timestamp (PAdES B-LTA) to sealed documents
whose timestamps approach the end of their validity, without changing their content.

Takes the index, the store, the audit log, an `Actor`, a job (or all), how far ahead to look,
the TSA URL and the trust anchors; gives a `ResealResult` listing what was due, what was
renewed and what was skipped (and why). A timestamp stays provable while its TSA certificate is
valid; ``within`` says how long before that end a document is due (``--force``: all).

Nothing archived is changed: the renewed PDF (the old bytes as its prefix, then the DSS and the
document timestamp) is archived as the next revision of the same record, under its own key,
with a copy of the record snapshot, through the same slot API (claim, store, complete) the
workers use. A dry run writes nothing. Each renewal is audited (``archive.reseal``) on both the
old and the new document; a document on legal hold is skipped while the index keeps one row
per record (it cannot be superseded).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from factory.archive import Slot, SqlIndex, Store, document_id, document_key, record_snapshot_key
from factory.archive.index import Supersession
from factory.compliance.audit import Actor, AuditLog
from factory.compliance.documents import Document, iter_documents, read_verified
from factory.compliance.query import DocumentQuery
from factory.errors import ArchiveError, FactoryError, IntegrityError, LegalHoldError

PDF = "application/pdf"


@dataclass
class ResealResult:
    checked: int = 0
    due: list[dict[str, Any]] = field(default_factory=list)
    resealed: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)
    executed: bool = False

    @property
    def ok(self) -> bool:
        return not self.skipped

    def as_dict(self) -> dict[str, Any]:
        return {"checked": self.checked, "due": self.due, "resealed": self.resealed,
                "skipped": self.skipped, "executed": self.executed}


def reseal_due(index: SqlIndex, store: Store, audit: AuditLog, actor: Actor, *,
               now: datetime, within: timedelta, tsa_url: str, trust: list[Any],
               job: str | None = None, force: bool = False, execute: bool = False,
               run_id: str = "reseal") -> ResealResult:
    from factory.render.seal_check import check_seal  # imports pyHanko

    result = ResealResult(executed=execute)
    for document in list(iter_documents(index, DocumentQuery(job=job))):
        entry = document.entry
        if entry.media_type != PDF:
            continue
        if not _latest(index, document):
            continue  # an older revision: only the current one is renewed
        result.checked += 1
        data = read_verified(store, entry.storage_key, entry.sha256,
                             f"document {document.document_id}")
        status = check_seal(data, trust)
        if not status.sealed or status.timestamp_valid_until is None:
            continue  # unsealed, or B-B: no timestamp to renew
        until = status.timestamp_valid_until
        if not force and until - now > within:
            continue
        item = {"document_id": document.document_id, "timestamps_valid_until":
                until.isoformat(), "profile": status.profile}
        result.due.append(item)
        if not status.ok:
            result.skipped.append({**item, "reason": "; ".join(status.problems)})
            continue
        if document.legal_hold:
            result.skipped.append({**item, "reason": "on legal hold"})
            continue
        if execute:
            try:
                result.resealed.append({**item, **_renew(index, store, audit, actor, document,
                                                          data, tsa_url, trust, now, run_id)})
            except FactoryError as exc:
                result.skipped.append({**item, "reason": str(exc)})
    return result


def _latest(index: SqlIndex, document: Document) -> bool:
    found = index.documents.find(_slot(document))
    return found is not None and found.document_id == document.document_id


def _slot(document: Document) -> Slot:
    entry = document.entry
    return Slot(entry.job, entry.period, entry.record_key, entry.channel, entry.document_type)


def _renew(index: SqlIndex, store: Store, audit: AuditLog, actor: Actor, document: Document,
           data: bytes, tsa_url: str, trust: list[Any], now: datetime,
           run_id: str) -> dict[str, Any]:
    from factory.archive.store import sha256_of
    from factory.render.seal_check import check_seal
    from factory.render.seal_lta import add_document_timestamp

    old = document.entry
    renewed = add_document_timestamp(data, tsa_url, trust)
    status = check_seal(renewed, trust)
    if not renewed.startswith(data) or not status.ok or status.profile != "B-LTA":
        raise IntegrityError(f"the renewed document does not check: {status.describe()}")
    revision = old.revision + 1
    new_id = document_id(old.job, old.period, old.record_key, old.document_type, old.channel,
                         revision)
    claim = index.claims.claim(_slot(document), run_id)
    key = document_key(old.job, old.period, old.record_key, new_id, "pdf", claim.attempt)
    snapshot_key = record_snapshot_key(key) if old.record_storage_key else None
    entry = replace(old, document_id=new_id, run_id=run_id, sha256=sha256_of(renewed),
                    byte_size=len(renewed), storage_key=key, created_at=now,
                    revision=revision, record_storage_key=snapshot_key)
    try:
        if old.record_storage_key and snapshot_key:
            snapshot = read_verified(store, old.record_storage_key, old.record_sha256,
                                     f"record snapshot of {old.document_id}")
            store.put(snapshot_key, snapshot, media_type="application/json",
                      sha256=sha256_of(snapshot), retain_until=old.retention_until)
        store.put(key, renewed, media_type=PDF, sha256=entry.sha256,
                  retain_until=old.retention_until)
        index.claims.complete(claim, entry, supersede=Supersession(
            actor, "document timestamp added (PAdES B-LTA reseal); content unchanged"))
    except (ArchiveError, LegalHoldError):
        index.claims.release(claim)
        raise
    details = {"from": old.document_id, "to": new_id, "sha256": entry.sha256,
               "document_timestamps": status.document_timestamps, "tsa": status.tsa}
    audit.record(actor, "archive.reseal", document_id=old.document_id, details=details)
    audit.record(actor, "archive.reseal", document_id=new_id, details=details)
    return {"new_document_id": new_id, "revision": revision, "sha256": entry.sha256}
