"""The compliance desk: every archive operation a person may ask for, each one audited.

Takes the index, the store and the export size limit; gives `ComplianceService`, which the
command line and the HTTP API both call with an `Actor`, so both leave the same audit trail:

    search      archive.search   (the query and how many matched)
    get         archive.get      (outcome ok, or integrity_error when the bytes were altered)
    export      archive.export   (one entry per document plus one for the bundle)
    hold        archive.hold / archive.release (with the reason)
    purge       archive.purge    (one per document deleted; a dry run writes nothing)
    rerender    archive.rerender (whether the text matched)
    verify_one  archive.verify   (one document's checksum and seal, e.g. "verify now")
    preview     archive.preview  (a page image of a document)
    reseal      archive.reseal   (a B-LTA document timestamp added, as a new revision)
    audit       audit.search     (the filters and how many matched)

Bytes are handed out only after their audit entry is committed: no audit, no document.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from factory.archive import Slot, SqlIndex, Store
from factory.compliance import documents as docs
from factory.compliance import retention
from factory.compliance.audit import Actor, AuditEntry, AuditLog
from factory.compliance.audit_query import AuditQuery, search_audit
from factory.compliance.export import ExportSummary, export_bundle
from factory.compliance.query import DocumentQuery
from factory.compliance.rerender import RerenderResult, rerender
from factory.compliance.reseal import ResealResult, reseal_due
from factory.compliance.trail import (
    DocumentCheck,
    DocumentTrail,
    check_document,
    document_trail,
    page_png,
)
from factory.compliance.verify import VerifyReport, verify_archive
from factory.config import DEFAULT_EXPORT_MAX_BYTES
from factory.errors import ConfigError, IntegrityError
from factory.jobs import JobSpec
from factory.models import ArchiveEntry


class ComplianceService:
    """Search, retrieve, prove, export, hold and purge archived documents."""

    def __init__(self, index: SqlIndex, store: Store,
                 export_max_bytes: int = DEFAULT_EXPORT_MAX_BYTES,
                 seal_trust: list[Any] | None = None,
                 export_sealer: Any | None = None) -> None:
        self.index = index
        self.store = store
        #: asn1crypto trust anchors for seal checks (`factory.render.seal.load_trust`).
        self.seal_trust = seal_trust
        #: Signs and timestamps export manifests (`factory.render.seal_data.DataSealer`).
        self.export_sealer = export_sealer
        self.audit = AuditLog(index)
        self.export_max_bytes = export_max_bytes

    def search(self, actor: Actor, query: DocumentQuery) -> tuple[list[docs.Document], bool]:
        found, more = docs.search(self.index, query)
        self.audit.record(actor, "archive.search", details={
            "query": query.as_dict(), "matches": len(found), "more": more})
        return found, more

    def document(self, doc_id: str) -> docs.Document:
        """Index fields only (no bytes, not audited)."""
        return docs.load(self.index, doc_id)

    def revisions(self, document: docs.Document) -> list[ArchiveEntry]:
        """Every revision of ``document``'s slot (itself included), oldest first."""
        e = document.entry
        return self.index.documents.revisions(Slot(e.job, e.period, e.record_key, e.channel,
                                         e.document_type))

    def get(self, actor: Actor, doc_id: str) -> tuple[docs.Document, bytes]:
        """The exact archived bytes, verified and audited before they are returned."""
        try:
            document, data = docs.fetch(self.index, self.store, doc_id)
        except IntegrityError as exc:
            self.audit.record(actor, "archive.get", outcome="integrity_error",
                              document_id=docs.load(self.index, doc_id).document_id,
                              details={"error": str(exc)[:500]})
            raise
        self.audit.record(actor, "archive.get", document_id=document.document_id,
                          details={"sha256": document.entry.sha256,
                                   "bytes": document.entry.byte_size})
        return document, data

    def export(self, actor: Actor, query: DocumentQuery, target: Path,
               max_bytes: int | None = None) -> ExportSummary:
        return export_bundle(self.index, self.store, self.audit, actor, query, target,
                             max_bytes or self.export_max_bytes, self.export_sealer)

    def hold(self, actor: Actor, doc_id: str, reason: str = "") -> tuple[docs.Document, bool]:
        return retention.set_hold(self.index, self.store, self.audit, actor, doc_id, True,
                                  reason)

    def release(self, actor: Actor, doc_id: str, reason: str = ""
                ) -> tuple[docs.Document, bool]:
        return retention.set_hold(self.index, self.store, self.audit, actor, doc_id, False,
                                  reason)

    def purge_expired(self, actor: Actor, now: datetime, execute: bool = False
                      ) -> retention.PurgeResult:
        return retention.purge_expired(self.index, self.store, self.audit, actor, now, execute)

    def search_audit(self, actor: Actor, query: AuditQuery) -> tuple[list[AuditEntry], bool]:
        found, more = search_audit(self.index, query)
        self.audit.record(actor, "audit.search", details={
            "query": query.as_dict(), "matches": len(found), "more": more})
        return found, more

    def trail(self, doc_id: str) -> DocumentTrail:
        """Revisions, audit trail and seal status of one document (read-only, not audited:
        nothing is handed out but the status)."""
        return document_trail(self.index, self.store, doc_id, self.seal_trust)

    def verify_one(self, actor: Actor, doc_id: str) -> DocumentCheck:
        """The checks of ``archive verify`` for one document, recorded as archive.verify."""
        check = check_document(self.index, self.store, doc_id, self.seal_trust)
        seal = check.seal
        self.audit.record(actor, "archive.verify", outcome="ok" if check.ok else "problems",
                          document_id=check.document_id, details={
                              "intact": check.intact, "problems": check.problems[:10],
                              "sealed": bool(seal and seal.sealed),
                              "seal": seal.describe() if seal is not None else None})
        return check

    def preview(self, actor: Actor, doc_id: str, page: int) -> bytes:
        """Page ``page`` of a PDF document as PNG, from verified bytes; audited."""
        document, data = docs.fetch(self.index, self.store, doc_id)
        png = page_png(data, page)
        self.audit.record(actor, "archive.preview", document_id=document.document_id,
                          details={"page": page})
        return png

    def reseal(self, actor: Actor, now: datetime, within: timedelta, tsa_url: str,
               job: str | None = None, force: bool = False, execute: bool = False
               ) -> ResealResult:
        """B-LTA document timestamps on the sealed documents due (a dry run unless
        ``execute``); needs the trust anchors (``seal_trust``) to collect validation data."""
        if not self.seal_trust:
            raise ConfigError("reseal needs the trust anchors the seals and timestamps chain"
                              " to: set FACTORY_SEAL_TRUST (or seal_trust in docfactory.toml)")
        stamp = now.strftime("%Y%m%dT%H%M%SZ")
        return reseal_due(self.index, self.store, self.audit, actor, now=now, within=within,
                          tsa_url=tsa_url, trust=self.seal_trust, job=job, force=force,
                          execute=execute, run_id=f"reseal-{stamp}")

    def verify(self, job: str | None = None) -> VerifyReport:
        return verify_archive(self.index, self.store, job, seal_trust=self.seal_trust)

    def rerender(self, actor: Actor, doc_id: str, workdir: Path, job: JobSpec | None = None
                 ) -> RerenderResult:
        """Render again from the archive and compare (WeasyPrint is imported on first use)."""
        result = rerender(self.index, self.store, doc_id, workdir, job)
        self.audit.record(actor, "archive.rerender", document_id=result.document.document_id,
                          details={"matches": result.matches,
                                   "byte_identical": result.byte_identical})
        return result
