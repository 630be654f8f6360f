"""Export bundles for auditors: the documents, a manifest and their audit trail, in one zip.

Takes the index, the store, the audit log, an `Actor`, a `DocumentQuery`, a target path and a
size limit; gives an `ExportSummary`. The bundle holds::

    documents/<period>/<readable name>.pdf  the exact archived bytes, each verified first
    manifest.json                           the query, every index field, checksums, audit head,
                                            and the SHA-256 of every other file of the bundle
    manifest.json.p7s                       (sealed bundles) detached CMS signature of it
    manifest.json.tst                       (sealed bundles, B-T) RFC 3161 token over it
    manifest.csv                            the same index fields, one row per document
    audit.jsonl                             every audit entry about these documents, with hashes
    SHA256SUMS                              for `sha256sum -c SHA256SUMS` after unzipping
    README.txt                              what is in it and how to check it

A readable name is ``<customer id>_<customer name>_<document type>_<period>[_<invoice
number>]_r<revision>``, from the record snapshot (a document without one keeps its id). With a
`DataSealer` (``[factory.export_seal]``) the manifest is signed and timestamped, so a recipient
checks the whole bundle with OpenSSL alone (README.txt shows the commands).

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
import re
import uuid
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from factory.archive import Store
from factory.archive.protocols import ArchiveView
from factory.compliance.audit import Actor, Append, AuditEntry, AuditLog
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

SEALED_README = """
This bundle is sealed: manifest.json lists the SHA-256 of every document and of every other
file here, and it is signed (manifest.json.p7s) and timestamped (manifest.json.tst) by
{signer}.
Check it with OpenSSL alone, root.pem being the issuer's root certificate (and the TSA's):

  openssl cms -verify -binary -inform DER -in manifest.json.p7s -content manifest.json \\
      -CAfile root.pem -purpose any -out /dev/null
  openssl ts -verify -data manifest.json -in manifest.json.tst -token_in -CAfile root.pem
  openssl ts -reply -in manifest.json.tst -token_in -text     (shows the time)
  sha256sum -c SHA256SUMS
  sha256sum manifest.csv audit.jsonl SHA256SUMS README.txt    (compare with manifest.json)

Each sealed PDF carries its own seal: pdfsig documents/<period>/<name>.pdf
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


_UNSAFE = re.compile(r"[^\w.+-]+")


def _slug(value: Any, limit: int = 40) -> str:
    """``value`` safe as a part of a file name on any system (letters of any script kept)."""
    return _UNSAFE.sub("-", str(value)).strip("-.")[:limit].strip("-.")


def _readable_name(document: Document, snapshot: dict[str, Any] | None) -> str:
    entry = document.entry
    record = (snapshot or {}).get("record") or {}
    computed = (snapshot or {}).get("computed") or {}
    parts = [entry.customer_id, record.get("name"), entry.document_type, entry.period,
             computed.get("number"), f"r{entry.revision}"]
    name = "_".join(p for p in (_slug(part) for part in parts if part) if p)
    return name if snapshot is not None else f"{name}_{document.document_id}"


def _path_in_zip(document: Document, snapshot: dict[str, Any] | None, taken: set[str]) -> str:
    base = f"documents/{document.entry.period}/{_readable_name(document, snapshot)}"
    name = f"{base}.{_extension(document)}"
    if name in taken:  # two channels or jobs with the same customer, type and period
        name = f"{base}_{document.document_id[:12]}.{_extension(document)}"
    taken.add(name)
    return name


def _snapshot(store: Store, document: Document) -> dict[str, Any] | None:
    entry = document.entry
    if not entry.record_storage_key:
        return None
    data = read_verified(store, entry.record_storage_key, entry.record_sha256,
                         f"record snapshot of {document.document_id}")
    try:
        body = json.loads(data)
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def export_bundle(index: ArchiveView, store: Store, audit: AuditLog, actor: Actor,
                  query: DocumentQuery, target: Path, max_bytes: int,
                  sealer: Any | None = None) -> ExportSummary:
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
                             max_bytes, sealer)
        digest = _sha256_file(tmp)
        bundle_bytes = tmp.stat().st_size
        audit.record_all(actor, [
            *(Append("archive.export", document_id=document.document_id,
                     details={"bundle": target.name, "bundle_sha256": digest})
              for document in found),
            Append("archive.export", details={
                "bundle": target.name, "bundle_sha256": digest, "documents": len(found),
                "bytes": written, "query": query.as_dict()})])
        tmp.replace(target)
    finally:
        tmp.unlink(missing_ok=True)
    return ExportSummary(target, len(found), written, bundle_bytes, digest, len(trail))


def _write_zip(path: Path, store: Store, found: list[Document], trail: list[AuditEntry],
               query: DocumentQuery, actor: Actor, head: tuple[int, str], max_bytes: int,
               sealer: Any | None = None) -> int:
    written = 0
    rows = []
    sums = []
    taken: set[str] = set()
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
                name = _path_in_zip(document, _snapshot(store, document), taken)
                bundle.writestr(zipfile.ZipInfo(name, _zip_time(document.entry.created_at)),
                                data, compress_type=zipfile.ZIP_STORED)
                rows.append({**document.as_dict(), "path": name})
                sums.append(f"{document.entry.sha256}  {name}\n")
            readme = README + (SEALED_README.format(signer=sealer.signer_name)
                               if sealer is not None else "")
            others = {"manifest.csv": _csv(rows).encode("utf-8"),
                      "audit.jsonl": "".join(json.dumps(entry.as_dict(), ensure_ascii=False)
                                             + "\n" for entry in trail).encode("utf-8"),
                      "SHA256SUMS": "".join(sums).encode("utf-8"),
                      "README.txt": readme.encode("utf-8")}
            manifest = {
                "generated_at": datetime.now(UTC).isoformat(),
                "generated_by": actor.id,
                "query": query.as_dict(),
                "documents": rows,
                "document_count": len(rows),
                "document_bytes": written,
                "audit_entries": len(trail),
                "audit_head": {"seq": head[0], "entry_hash": head[1]},
                "files": {name: hashlib.sha256(data).hexdigest()
                          for name, data in others.items()},
                "sealed_by": sealer.signer_name if sealer is not None else None,
            }
            body = (json.dumps(manifest, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
            bundle.writestr("manifest.json", body)
            if sealer is not None:
                bundle.writestr("manifest.json.p7s", sealer.sign(body))
                token = sealer.timestamp(body)
                if token is not None:
                    bundle.writestr("manifest.json.tst", token)
            for name, data in others.items():
                bundle.writestr(name, data)
        handle.flush()
        os.fsync(handle.fileno())
    return written


def _csv(rows: list[dict[str, Any]]) -> str:
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
