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
import threading
from dataclasses import dataclass, field
from typing import Any

from factory.archive import Store
from factory.archive.protocols import ArchiveView
from factory.compliance.audit import AuditEntry
from factory.compliance.audit_query import AuditQuery, search_audit
from factory.compliance.documents import Document, fetch, load
from factory.errors import ArchiveError, ConfigError, InputError, IntegrityError, RenderError

PDF = "application/pdf"
MAX_PREVIEW_PAGES = 20
PREVIEW_DPI = 60
#: PDFium is not thread-safe (pypdfium2 says so; the web server renders previews from a
#: thread pool, and two at once crashed the process): one preview at a time per process.
_PDFIUM = threading.Lock()


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
    #: revision's document id -> who made it supersede its predecessor, and why (from the
    #: audit entries of the revisions: a reseal says who and that it added a timestamp).
    why: dict[str, str] = field(default_factory=dict)


def supersessions(index: ArchiveView, revisions: list[Document]) -> dict[str, str]:
    """Who made each later revision and why, where the audit log says so (reseals)."""
    import json

    found: dict[str, str] = {}
    for later in revisions[1:]:
        entries, _more = search_audit(index, AuditQuery.parse(
            document=later.document_id, action="archive.reseal", limit=5))
        for entry in entries:
            details = json.loads(entry.details or "{}")
            if details.get("to") == later.document_id:
                found[later.document_id] = (
                    f"{entry.actor}: a document timestamp (PAdES B-LTA) was added by"
                    f" archive reseal; content unchanged")
    return found


def revisions(index: ArchiveView, document: Document) -> list[Document]:
    return index.search.slot_revisions(document)


def check_document(index: ArchiveView, store: Store, doc_id: str,
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


def document_trail(index: ArchiveView, store: Store, doc_id: str,
                   trust: list[Any] | None = None, audit_limit: int = 500) -> DocumentTrail:
    document = load(index, doc_id)
    trail, more = search_audit(index, AuditQuery.parse(document=document.document_id,
                                                       limit=audit_limit))
    found = revisions(index, document)
    return DocumentTrail(document, found, trail, more,
                         check_document(index, store, document.document_id, trust),
                         supersessions(index, found))


def page_png(data: bytes, page: int, dpi: int = PREVIEW_DPI) -> bytes:
    """Page ``page`` (1-based) of a PDF as PNG; `InputError` past the last page."""
    try:
        import pypdfium2 as pdfium
    except ImportError:
        raise ConfigError("page previews need the 'proof' extra (pypdfium2, pillow):"
                          " pip install 'docfactory[proof]'") from None
    with _PDFIUM:
        try:
            pdf = pdfium.PdfDocument(data)
        except pdfium.PdfiumError as exc:
            raise RenderError(f"PDFium cannot read the document: {exc}") from None
        try:
            if not 1 <= page <= min(len(pdf), MAX_PREVIEW_PAGES):
                raise InputError(f"page {page} is not a page of this document (1 to"
                                 f" {min(len(pdf), MAX_PREVIEW_PAGES)})")
            pdf_page = pdf[page - 1]
            try:
                rendered = pdf_page.render(scale=dpi / 72).to_pil().convert("RGB")
            finally:
                pdf_page.close()
        finally:
            pdf.close()
    buffer = io.BytesIO()
    rendered.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()
