"""Export bundles for auditors: the documents, a manifest and their audit trail, in one zip.

Takes the index, the store, the audit log, an `Actor`, a `DocumentQuery`, a target path and a
size limit; gives an `ExportSummary`. The bundle holds::

    documents/<period>/<document id>.pdf   the exact archived bytes, each verified first
    manifest.json                          the query, every index field, checksums, audit head
    manifest.csv                           the same index fields, one row per document
    audit.jsonl                            every audit entry about these documents, with hashes
    SHA256SUMS                             for `sha256sum -c SHA256SUMS` after unzipping
    README.txt                             what is in it and how to check it

The size is checked against the index BEFORE anything is written; the zip is written under a
temporary name beside the target and renamed into place only when complete and audited, so a
refused or failed export (too large, a tampered object, a full disk) leaves nothing behind.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import uuid
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from factory.archive import SqlIndex, Store
from factory.compliance.audit import Actor, AuditLog
from factory.compliance.documents import Document, iter_documents, read_verified, totals
from factory.compliance.query import DocumentQuery
from factory.errors import InputError, LimitExceededError, NotFoundError

CSV_FIELDS = ["document_id", "path", "job", "run_id", "period", "record_key", "customer_id",
              "document_type", "channel", "locale", "template_version", "page_count",
              "byte_size", "sha256", "storage_key", "media_type", "revision", "created_at",
              "retention_until", "legal_hold"]

README = """docfactory export bundle
========================

documents/     the archived documents, byte for byte as stored
manifest.json  the query, every document's index fields (checksums included) and the
               audit-log head at the time of export
manifest.csv   the same index fields as a table
audit.jsonl    every audit-log entry about these documents; each carries prev_hash and
               entry_hash = SHA-256(prev_hash + "\\n" + canonical JSON of the entry)
SHA256SUMS     check the documents with:  sha256sum -c SHA256SUMS
"""


@dataclass(frozen=True)
class ExportSummary:
    path: Path
    documents: int
    document_bytes: int
    bundle_bytes: int
    sha256: str
    audit_entries: int


def _extension(document: Document) -> str:
    return document.entry.storage_key.rsplit(".", 1)[-1]


def _path_in_zip(document: Document) -> str:
    return f"documents/{document.entry.period}/{document.document_id}.{_extension(document)}"


def export_bundle(index: SqlIndex, store: Store, audit: AuditLog, actor: Actor,
                  query: DocumentQuery, target: Path, max_bytes: int) -> ExportSummary:
    """Write the bundle of every document matching ``query`` to ``target``, atomically."""
    target = Path(target)
    if not target.parent.is_dir():
        raise InputError(f"{target.parent}: folder not found; the export is not written")
    if target.exists():
        raise InputError(f"{target} exists already; choose another name (nothing written)")
    count, size = totals(index, query)
    if count == 0:
        raise NotFoundError(f"no documents match {_describe(query)}; nothing written")
    if size > max_bytes:
        raise LimitExceededError(
            f"the export would hold {count} document(s) of {size:,} bytes, over the limit of"
            f" {max_bytes:,} bytes (export_max_bytes / --max-bytes); narrow the date range or"
            " raise the limit. Nothing written")
    found = sorted(iter_documents(index, query),
                   key=lambda d: (d.entry.created_at, d.document_id))
    trail = audit.entries(document_ids=[d.document_id for d in found])
    head_seq, head_hash = audit.head()
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.partial")
    try:
        written = _write_zip(tmp, store, found, trail, query, actor, (head_seq, head_hash),
                             max_bytes)
        digest = _sha256_file(tmp)
        bundle_bytes = tmp.stat().st_size
        with index.begin() as conn:
            for document in found:
                audit.append(conn, actor, "archive.export", document_id=document.document_id,
                             details={"bundle": target.name, "bundle_sha256": digest})
            audit.append(conn, actor, "archive.export", details={
                "bundle": target.name, "bundle_sha256": digest, "documents": len(found),
                "bytes": written, "query": query.as_dict()})
        tmp.replace(target)
    finally:
        tmp.unlink(missing_ok=True)
    return ExportSummary(target, len(found), written, bundle_bytes, digest, len(trail))


def _write_zip(path: Path, store: Store, found: list[Document], trail: list, query: DocumentQuery,
               actor: Actor, head: tuple[int, str], max_bytes: int) -> int:
    written = 0
    rows = []
    sums = []
    with path.open("wb") as handle:
        with zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
            for document in found:
                data = read_verified(store, document.entry.storage_key, document.entry.sha256,
                                     f"document {document.document_id}")
                written += len(data)
                if written > max_bytes:
                    raise LimitExceededError(
                        f"the stored documents exceed the limit of {max_bytes:,} bytes (the"
                        " index under-reports their size); nothing written")
                name = _path_in_zip(document)
                bundle.writestr(zipfile.ZipInfo(name, _zip_time(document.entry.created_at)),
                                data, compress_type=zipfile.ZIP_STORED)
                rows.append({**document.as_dict(), "path": name})
                sums.append(f"{document.entry.sha256}  {name}\n")
            manifest = {
                "generated_at": datetime.now(UTC).isoformat(),
                "generated_by": actor.id,
                "query": query.as_dict(),
                "documents": rows,
                "document_count": len(rows),
                "document_bytes": written,
                "audit_entries": len(trail),
                "audit_head": {"seq": head[0], "entry_hash": head[1]},
            }
            bundle.writestr("manifest.json", json.dumps(manifest, ensure_ascii=False,
                                                        indent=2) + "\n")
            bundle.writestr("manifest.csv", _csv(rows))
            bundle.writestr("audit.jsonl", "".join(
                json.dumps(entry.as_dict(), ensure_ascii=False) + "\n" for entry in trail))
            bundle.writestr("SHA256SUMS", "".join(sums))
            bundle.writestr("README.txt", README)
        handle.flush()
        os.fsync(handle.fileno())
    return written


def _csv(rows: list[dict]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_FIELDS, extrasaction="ignore",
                            lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def _zip_time(moment: datetime) -> tuple[int, int, int, int, int, int]:
    utc = moment.astimezone(UTC)
    return (max(utc.year, 1980), utc.month, utc.day, utc.hour, utc.minute, utc.second)


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _describe(query: DocumentQuery) -> str:
    parts = [f"{k}={v}" for k, v in query.as_dict().items() if k != "limit"]
    return ", ".join(parts) or "the query"
