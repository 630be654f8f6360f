"""Everything that ever happened to one document, for its page: revisions, audit trail, seal,
page previews, and the single-document check behind "verify now".

Takes the index, the store, a document id and the seal trust anchors; gives a `DocumentTrail`
(read-only, not audited: the caller audits what it hands out), a `DocumentCheck` (the same
checks as ``archive verify`` for one document: stored bytes against the index SHA-256, then the
seal and timestamps) and PNG previews of pages rendered server-side with PDFium.

Revisions are the index rows that share the document's job, period, record key, channel and
document type, oldest first; a revision is superseded by the next one (its run says when).
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from factory.archive import SqlIndex, Store
from factory.archive.tables import documents
from factory.compliance.audit import AuditEntry
from factory.compliance.audit_query import AuditQuery, search_audit
from factory.compliance.documents import Document, _document, fetch, load
from factory.errors import ArchiveError, ConfigError, InputError, IntegrityError, RenderError

PDF = "application/pdf"
MAX_PREVIEW_PAGES = 20
PREVIEW_DPI = 60


@dataclass
class DocumentCheck:
    document_id: str
    intact: bool  # the stored bytes match the index SHA-256
    seal: Any = None  # factory.render.seal_check.SealStatus, for a PDF
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {"document_id": self.document_id, "ok": self.ok, "intact": self.intact,
                "seal": self.seal.as_dict() if self.seal is not None else None,
                "problems": list(self.problems)}


@dataclass
class DocumentTrail:
    document: Document
    revisions: list[Document]
    audit: list[AuditEntry]
    more_audit: bool
    check: DocumentCheck


def revisions(index: SqlIndex, document: Document) -> list[Document]:
    entry = document.entry
    statement = select(documents).where(
        documents.c.job == entry.job, documents.c.period == entry.period,
        documents.c.record_key == entry.record_key, documents.c.channel == entry.channel,
        documents.c.document_type == entry.document_type,
    ).order_by(documents.c.revision, documents.c.created_at)
    with index.connect() as conn:
        return [_document(row) for row in conn.execute(statement)]


def check_document(index: SqlIndex, store: Store, doc_id: str,
                   trust: list[Any] | None = None) -> DocumentCheck:
    """The stored bytes against the index, then (for a PDF) every seal."""
    try:
        document, data = fetch(index, store, doc_id)
    except IntegrityError as exc:
        return DocumentCheck(load(index, doc_id).document_id, False, None, [str(exc)])
    except ArchiveError as exc:
        return DocumentCheck(load(index, doc_id).document_id, False, None,
                             [f"cannot be read: {exc}"])
    check = DocumentCheck(document.document_id, True)
    if document.entry.media_type == PDF:
        from factory.render.seal_check import check_seal  # imports pyHanko

        try:
            check.seal = check_seal(data, trust)
        except IntegrityError as exc:
            check.problems.append(str(exc))
            return check
        check.problems.extend(check.seal.problems)
    return check


def document_trail(index: SqlIndex, store: Store, doc_id: str,
                   trust: list[Any] | None = None, audit_limit: int = 500) -> DocumentTrail:
    document = load(index, doc_id)
    trail, more = search_audit(index, AuditQuery.parse(document=document.document_id,
                                                       limit=audit_limit))
    return DocumentTrail(document, revisions(index, document), trail, more,
                         check_document(index, store, document.document_id, trust))


def page_png(data: bytes, page: int, dpi: int = PREVIEW_DPI) -> bytes:
    """Page ``page`` (1-based) of a PDF as PNG; `InputError` past the last page."""
    try:
        import pypdfium2 as pdfium
    except ImportError:
        raise ConfigError("page previews need the 'proof' extra (pypdfium2, pillow):"
                          " pip install 'docfactory[proof]'") from None
    try:
        pdf = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        raise RenderError(f"PDFium cannot read the document: {exc}") from None
    try:
        if not 1 <= page <= min(len(pdf), MAX_PREVIEW_PAGES):
            raise InputError(f"page {page} is not a page of this document (1 to"
                             f" {min(len(pdf), MAX_PREVIEW_PAGES)})")
        rendered = pdf[page - 1].render(scale=dpi / 72).to_pil()
        buffer = io.BytesIO()
        rendered.convert("RGB").save(buffer, format="PNG", optimize=True)
        return buffer.getvalue()
    finally:
        pdf.close()
