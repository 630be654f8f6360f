"""Verify the archive against the index: every object present, unaltered, and accounted for.

Takes the index, the store and optionally a job name; gives a `VerifyReport` listing every
finding: a document or record snapshot that is **missing** from the store, one whose bytes
no longer match the SHA-256 recorded in the index (**altered**), a template-set snapshot that
no longer hashes to its version, **orphan** objects in the store that no index row
references, **temp** objects a writer killed mid-write left behind, and an object of a
document on legal hold that the store no longer holds (**unheld**: an S3 Object Lock legal
hold cleared behind the index's back). Every revision is checked, superseded ones too.
Everything is recomputed from the stored bytes; nothing is trusted. Documents are read one at
a time and store keys checked against the index in batches, so memory stays flat.
A sealed PDF's seal and timestamps are validated too (`factory.render.seal_check`): a seal that
is broken, a document modified after sealing, or (with ``seal_trust``) a signer or TSA that does
not chain to a trust anchor is a **seal** finding, and so is a PDF whose job (or retention
class) sealed its documents (the record snapshot says so) that carries no seal.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from factory.archive import Store, template_snapshot_key
from factory.archive.protocols import ArchiveView
from factory.archive.store import TempObjects
from factory.compliance.documents import Document, iter_documents, read_verified
from factory.compliance.query import DocumentQuery
from factory.compliance.retention import HoldableStore, document_keys
from factory.errors import ArchiveError, ConfigError, IntegrityError
from factory.models import Channel
from factory.templates.templateset import snapshot_version


@dataclass(frozen=True)
class Finding:
    kind: str  # missing | altered | orphan | unreadable | temp | unheld | seal
    key: str
    document_id: str | None
    detail: str

    def describe(self) -> str:
        who = f" (document {self.document_id})" if self.document_id else ""
        return f"{self.kind}: {self.key}{who}: {self.detail}"


@dataclass
class VerifyReport:
    scope: str
    documents: int = 0
    bytes: int = 0
    snapshots: int = 0
    template_versions: int = 0
    objects: int = 0
    sealed: int = 0
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings

    def counts(self) -> dict[str, int]:
        found = Counter(f.kind for f in self.findings)
        return {kind: found.get(kind, 0) for kind in ("missing", "altered", "orphan",
                                                      "temp", "unheld", "seal")}

    def as_dict(self) -> dict[str, object]:
        return {"scope": self.scope, "ok": self.ok, "documents": self.documents,
                "bytes": self.bytes, "record_snapshots": self.snapshots,
                "template_versions": self.template_versions, "store_objects": self.objects,
                "sealed_documents": self.sealed,
                "counts": self.counts(),
                "findings": [f.__dict__ for f in self.findings]}


def _check_object(store: Store, report: VerifyReport, key: str, expected: str | None,
                  doc_id: str | None, what: str) -> bytes | None:
    try:
        return read_verified(store, key, expected, what)
    except IntegrityError as exc:  # ours, or the store's own check (S3 metadata)
        report.findings.append(Finding("altered", key, doc_id, str(exc)))
    except ArchiveError as exc:
        kind = "missing" if not _exists(store, key) else "unreadable"
        report.findings.append(Finding(kind, key, doc_id, str(exc)))
    return None


def _exists(store: Store, key: str) -> bool:
    try:
        return store.exists(key)
    except ArchiveError:
        return False


def verify_archive(index: ArchiveView, store: Store, job: str | None = None,
                   progress: Callable[[int], None] | None = None,
                   seal_trust: list[Any] | None = None) -> VerifyReport:
    """Recompute every checksum of ``job``'s documents (or all), check their seals and look
    for orphans; ``seal_trust``: the trust anchors signers and TSAs must chain to."""
    report = VerifyReport(scope=f"job {job}" if job else "the whole archive")
    versions: set[str] = set()
    for document in iter_documents(index, DocumentQuery(job=job, revisions=True)):
        entry = document.entry
        report.documents += 1
        report.bytes += entry.byte_size
        if entry.channel != Channel.PRINT:  # print files carry their print settings' hash
            versions.add(entry.template_version)
        body = _check_object(store, report, entry.storage_key, entry.sha256,
                             entry.document_id, "document")
        data = None
        if entry.record_storage_key:
            report.snapshots += 1
            data = _check_object(store, report, entry.record_storage_key, entry.record_sha256,
                                 entry.document_id, "record snapshot")
            if data is not None and entry.record_sha256 is None:
                _check_legacy_snapshot(report, entry.record_storage_key, entry.document_id,
                                       data)
        if document.legal_hold and isinstance(store, HoldableStore):
            _check_holds(store, report, document)
        if body is not None and entry.media_type == "application/pdf":
            _check_seal(report, entry.storage_key, entry.document_id, body, data, seal_trust)
        if progress is not None:
            progress(report.documents)
    for version in sorted(versions):
        report.template_versions += 1
        key = template_snapshot_key(version)
        data = _check_object(store, report, key, None, None, "template-set snapshot")
        if data is not None:
            try:
                actual = snapshot_version(data)
            except ConfigError as exc:
                actual = f"unreadable ({exc})"
            if actual != version:
                report.findings.append(Finding("altered", key, None,
                                               f"template-set snapshot hashes to {actual},"
                                               f" not its version {version}"))
    _find_orphans(index, store, f"{job}/" if job else "", report)
    _find_temp_objects(store, f"{job}/" if job else "", report)
    return report


def _find_temp_objects(store: Store, prefix: str, report: VerifyReport) -> None:
    """Temporary files a killed writer left (the next run of their job and period removes
    them; until then they are reported)."""
    if isinstance(store, TempObjects):
        for key in store.temp_objects(prefix):
            report.findings.append(Finding(
                "temp", key, None, "a temporary object left by a writer killed mid-write;"
                " the next run of its job and period removes it"))


def _check_holds(store: HoldableStore, report: VerifyReport, document: Document) -> None:
    """A document on legal hold in the index: the store must hold each of its objects too
    (stores that cannot hold answer None: the index is the hold)."""
    for key in document_keys(document):
        try:
            held = store.legal_hold(key)
        except ArchiveError:
            continue  # missing or unreadable: reported above
        if held is False:
            report.findings.append(Finding(
                "unheld", key, document.document_id, "the document is on legal hold, but the"
                " store does not hold this object (its hold was cleared outside docfactory);"
                " `archive hold` places it again"))


def _check_seal(report: VerifyReport, key: str, doc_id: str, body: bytes,
                snapshot: bytes | None, trust: list[Any] | None) -> None:
    from factory.render.seal_check import check_seal  # imports pyHanko

    try:
        status = check_seal(body, trust)
    except IntegrityError as exc:
        report.findings.append(Finding("seal", key, doc_id, str(exc)))
        return
    if status.sealed:
        report.sealed += 1
        for problem in status.problems:
            report.findings.append(Finding("seal", key, doc_id, problem))
    elif _job_sealed(snapshot):
        report.findings.append(Finding("seal", key, doc_id, "not sealed, although its job"
                                       " sealed every document (see its record snapshot)"))


def _job_sealed(snapshot: bytes | None) -> bool:
    if snapshot is None:
        return False
    try:
        body = json.loads(snapshot)
        return bool((body.get("job_spec") or {}).get("seal")
                    or (body.get("computed") or {}).get("seal"))
    except (ValueError, AttributeError):
        return False


def _check_legacy_snapshot(report: VerifyReport, key: str, doc_id: str, data: bytes) -> None:
    """Snapshots archived before their checksum was indexed: at least they must name their
    document."""
    try:
        named = json.loads(data).get("document_id")
    except (ValueError, AttributeError):
        named = None
    if named != doc_id:
        report.findings.append(Finding("altered", key, doc_id,
                                       "record snapshot does not name its document"))


def _find_orphans(index: ArchiveView, store: Store, prefix: str, report: VerifyReport) -> None:
    batch: list[str] = []
    for key in store.keys(prefix):
        report.objects += 1
        batch.append(key)
        if len(batch) >= 500:
            _orphans_in(index, batch, report)
            batch = []
    if batch:
        _orphans_in(index, batch, report)


def _orphans_in(index: ArchiveView, keys: list[str], report: VerifyReport) -> None:
    known = index.documents.known_keys(keys) | index.templates.known_keys(keys)
    for key in sorted(set(keys) - known):
        report.findings.append(Finding(
            "orphan", key, None, "in the store but not in the index (left by a purge that"
            " could not delete it, a crash between store and index, or put there by hand)"))
