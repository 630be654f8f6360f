"""Proof of what was sent: render an archived document again and compare it with the original.

Takes the index, the store, a document id and an empty work folder; gives a `RerenderResult`.
Everything comes from the archive, nothing from the current project: the record snapshot
(``<doc id>.record.json``: the validated record, locale, issue date, period and the job's
rendering settings), and the template-set snapshot of the exact version the document was made
with (``_template-sets/<version>.zip``, proven to hash to that version before use). The zip is
unpacked into the work folder and rendered with the same `DocumentRenderer` the workers use.
The text of every page is extracted from both PDFs with pypdf and compared; the result says
whether it matches and, if not, exactly which lines of which page differ.
"""

from __future__ import annotations

import difflib
import io
import json
import zipfile
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path, PurePosixPath
from typing import Any

from pypdf import PdfReader
from pypdf.errors import PyPdfError

from factory.archive import SqlIndex, Store, template_snapshot_key
from factory.archive.store import sha256_of
from factory.compliance.documents import Document, fetch, read_verified
from factory.config import Settings
from factory.errors import ConfigError, FactoryError, IntegrityError
from factory.jobs import JobSpec
from factory.jobs.spec import parse_job
from factory.models import Period, Position, Record
from factory.templates.templateset import snapshot_version

#: The job's source is not needed to render one record again; the snapshot leaves it out.
_NO_SOURCE = {"type": "jsonl", "path": "(not needed to render an archived record again)"}
MAX_DIFF_LINES = 60


@dataclass
class RerenderResult:
    document: Document
    template_version: str
    archived_pages: int
    rendered_pages: int
    byte_identical: bool
    differences: list[str] = field(default_factory=list)
    rendered: bytes = b""

    @property
    def matches(self) -> bool:
        return not self.differences

    def as_dict(self) -> dict[str, Any]:
        return {"document_id": self.document.document_id, "matches": self.matches,
                "template_version": self.template_version,
                "archived_pages": self.archived_pages, "rendered_pages": self.rendered_pages,
                "byte_identical": self.byte_identical, "differences": self.differences}


def rerender(index: SqlIndex, store: Store, doc_id: str, workdir: Path,
             job: JobSpec | None = None) -> RerenderResult:
    """Render ``doc_id`` again from its archived inputs and compare the text with the original.

    ``job`` is only used for documents archived before snapshots carried the job's rendering
    settings.
    """
    document, archived = fetch(index, store, doc_id)
    entry = document.entry
    if entry.media_type != "application/pdf":
        raise ConfigError(f"document {entry.document_id} is a {entry.channel} message"
                          f" ({entry.media_type}): re-rendering proves PDF documents; a message"
                          " is archived exactly as sent (`archive get` gives its bytes)")
    if not entry.record_storage_key:
        raise ConfigError(f"document {entry.document_id} has no record snapshot; it cannot be"
                          " rendered again")
    snapshot = _json(read_verified(store, entry.record_storage_key, entry.record_sha256,
                                   f"record snapshot of {entry.document_id}"), entry.document_id)
    version = entry.template_version
    template_zip = read_verified(store, template_snapshot_key(version), None,
                                 f"template set {version[:12]}")
    actual = snapshot_version(template_zip)
    if actual != version:
        raise IntegrityError(f"the template-set snapshot {template_snapshot_key(version)} hashes"
                             f" to {actual}, not to its version {version}; it has been altered")
    spec = _job(snapshot, job, entry.document_id)
    _unpack(template_zip, workdir)
    settings = Settings(root=workdir, templates_dir=workdir / "templates",
                        assets_dir=workdir / "assets", var_dir=workdir / "var")
    record = Record(key=snapshot["record_key"], customer_id=snapshot["customer_id"],
                    locale=snapshot["locale"],
                    position=Position(str(snapshot.get("source", {}).get("name", "snapshot")),
                                      int(snapshot.get("source", {}).get("index", 0))),
                    data=snapshot["record"])
    from factory.pipeline.document import DocumentRenderer  # imports WeasyPrint

    try:
        renderer = DocumentRenderer(spec, settings, Period.parse(snapshot["period"]),
                                    date.fromisoformat(snapshot["issued"]),
                                    expected_version=version)
        # A numbered document (an invoice) is rendered with the number it was archived with.
        number = (snapshot.get("computed") or {}).get("sequence")
        _html, artifact = renderer.render(record, entry.document_id,
                                          int(number) if number is not None else None)
    except (KeyError, ValueError) as exc:
        raise ConfigError(f"record snapshot of {entry.document_id} is incomplete: {exc}") \
            from None
    old_pages, new_pages = _pages(archived, "archived"), _pages(artifact.data, "re-rendered")
    return RerenderResult(document, version, len(old_pages), len(new_pages),
                          sha256_of(artifact.data) == entry.sha256,
                          compare_pages(old_pages, new_pages), artifact.data)


def _json(data: bytes, doc_id: str) -> dict[str, Any]:
    try:
        body = json.loads(data)
    except ValueError as exc:
        raise IntegrityError(f"record snapshot of {doc_id} is not JSON: {exc}") from None
    if not isinstance(body, dict) or body.get("document_id") != doc_id:
        raise IntegrityError(f"record snapshot of {doc_id} belongs to another document")
    return body


def _job(snapshot: dict[str, Any], fallback: JobSpec | None, doc_id: str) -> JobSpec:
    stored = snapshot.get("job_spec")
    if stored is None:
        if fallback is None:
            raise ConfigError(f"the record snapshot of {doc_id} predates stored job settings;"
                              " pass the job file it was made with (--job FILE)")
        return fallback
    try:
        return parse_job({**stored, "source": _NO_SOURCE}, Path(f"snapshot of {doc_id}"))
    except FactoryError as exc:
        raise ConfigError(f"the job settings in the record snapshot of {doc_id} are not"
                          f" valid: {exc}") from None


def _unpack(data: bytes, root: Path) -> None:
    """Extract a template-set snapshot, refusing any name that would land outside ``root``."""
    root = root.resolve()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for info in archive.infolist():
            name = PurePosixPath(info.filename)
            if info.is_dir():
                continue
            if name.is_absolute() or ".." in name.parts or \
                    name.parts[0] not in ("templates", "assets"):
                raise IntegrityError(f"template-set snapshot holds a forbidden path"
                                     f" {info.filename!r}")
            target = (root / Path(*name.parts)).resolve()
            if not target.is_relative_to(root):
                raise IntegrityError(f"template-set snapshot holds a forbidden path"
                                     f" {info.filename!r}")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(archive.read(info))


def _pages(data: bytes, label: str) -> list[str]:
    try:
        return [page.extract_text() or "" for page in PdfReader(io.BytesIO(data)).pages]
    except (PyPdfError, ValueError, KeyError) as exc:
        raise IntegrityError(f"the {label} PDF cannot be read: {exc}") from None


def compare_pages(archived: list[str], rendered: list[str]) -> list[str]:
    """Human-readable differences between two documents' page texts; empty when identical."""
    lines: list[str] = []
    if len(archived) != len(rendered):
        lines.append(f"page count: archived {len(archived)}, re-rendered {len(rendered)}")
    for number in range(max(len(archived), len(rendered))):
        old = archived[number] if number < len(archived) else ""
        new = rendered[number] if number < len(rendered) else ""
        if old == new:
            continue
        diff = difflib.unified_diff(old.splitlines(), new.splitlines(), "archived",
                                    "re-rendered", lineterm="", n=0)
        changed = [line for line in diff if not line.startswith(("---", "+++", "@@"))]
        lines.append(f"page {number + 1}: {len(changed)} line(s) differ")
        lines.extend(f"  {line}" for line in changed)
    if len(lines) > MAX_DIFF_LINES:
        hidden = len(lines) - MAX_DIFF_LINES
        lines = [*lines[:MAX_DIFF_LINES], f"... and {hidden} more line(s)"]
    return lines
