"""The print step of a run: archived documents in, print files archived and indexed out.

Takes a job (its ``[print]`` table), settings, a period, the store and the index; gives a
`PrintSummary`. It reads the run's archived documents from the index and their postal
addresses from the record snapshots (``<doc>.record.json``), selects the print items with the
``select`` rule, has `factory.printing` plan and assemble them, and archives every print file,
cover page and manifest (channel ``print``; document types ``print-stream``, ``print-cover``,
``print-manifest``, ``print-manifest-csv``; record key ``print-<batch>``) through the same
claim/complete protocol as documents. Rebuilding is idempotent: an output whose bytes did not
change keeps its row and object; a changed one becomes a new revision beside the old one
(which stays stored and indexed, marked superseded); print files of batches that no longer
exist are withdrawn (marked superseded with no successor). Nothing is deleted: print files are
a record of what was sent, kept until retention like documents. Run after a run (`run_job`)
and by ``docfactory print``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from factory.archive import Slot
from factory.archive.audit import Actor
from factory.archive.index import SqlIndex, Supersession
from factory.archive.keys import SlotKey
from factory.archive.slots import Slots
from factory.archive.store import Store, sha256_of
from factory.config import Settings, retention_until
from factory.errors import IntegrityError, RecordError
from factory.jobs import JobSpec
from factory.models import ArchiveEntry, Artifact
from factory.pipeline import CHANNEL
from factory.printing import PrintItem, address_from, build_print_files, select_items
from factory.templates.brand import load_brand

PRINT_CHANNEL = "print"
#: Who supersedes or withdraws print files: the print step itself, on the run's behalf.
PRINT_ACTOR = Actor("system:print", "system")
OUTPUTS = (  # (attribute of PrintOutput, document type, media type, extension)
    ("stream", "print-stream", "application/pdf", "pdf"),
    ("cover", "print-cover", "application/pdf", "pdf"),
    ("manifest_json", "print-manifest", "application/json", "json"),
    ("manifest_csv", "print-manifest-csv", "text/csv", "csv"),
)


@dataclass
class PrintSummary:
    """What the print step did; ``as_dict`` goes into the run report under ``print``."""

    archived_documents: int = 0
    selected: int = 0
    batches: int = 0
    envelopes: int = 0
    documents: int = 0
    sheets: int = 0
    pages: int = 0
    blank_pages: int = 0
    written: int = 0
    unchanged: int = 0
    withdrawn: int = 0
    files: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "warnings"}


def collect_items(job: JobSpec, period: str, store: Store, index: SqlIndex,
                  summary: PrintSummary, only: set[str] | None = None) -> list[PrintItem]:
    """Every archived document of the job's period (or of the record keys ``only``) as a
    print item, its address from the record snapshot (read only for those)."""
    items = []
    for entry in index.documents.entries(job=job.name, period=period, channel=CHANNEL,
                                         document_type=job.document_type):
        summary.archived_documents += 1
        if only is not None and entry.record_key not in only:
            continue
        if not entry.record_storage_key:
            summary.warnings.append(f"{entry.record_key}: no record snapshot; not printed")
            continue
        snapshot = json.loads(store.get(entry.record_storage_key))
        record = snapshot.get("record", {})
        try:
            address = address_from(record, job.print_.address)
        except RecordError as exc:
            summary.warnings.append(f"{entry.record_key}: {exc.field}: {exc.reason};"
                                    " not printed")
            continue
        items.append(PrintItem(entry.document_id, entry.storage_key, entry.sha256,
                               entry.record_key, entry.customer_id, entry.page_count or 0,
                               address, record))
    return items


def selection_rule(job: JobSpec) -> str:
    """The job's print selection: its ``select``, else the records routed to print when print
    is one of its channels, else all."""
    return job.print_.select or ("routed" if "print" in job.channels else "all")


def build_print(job: JobSpec, settings: Settings, period: str, store: Store, index: SqlIndex,
                run_id: str) -> PrintSummary:
    """(Re)build and archive the print files of ``job`` for ``period``."""
    summary = PrintSummary()
    spec = job.print_
    rule = selection_rule(job)

    def routed() -> set[str]:
        """Records whose print hand-over routing queued (the `deliveries` table)."""
        return {row.record_key for row in index.deliveries.where(
            job=job.name, period=period, channel="print", document_type=job.document_type)}

    if rule.strip() == "routed":  # read the snapshots of the routed records only
        items = collect_items(job, period, store, index, summary, only=routed())
    else:
        items = select_items(collect_items(job, period, store, index, summary), rule)
    summary.selected = len(items)
    window = load_brand(settings.assets_dir / job.brand).address_window

    def fetch(item: PrintItem) -> bytes:
        data = store.get(item.storage_key)
        if sha256_of(data) != item.sha256:
            raise IntegrityError(f"{item.storage_key}: bytes do not match the index SHA-256")
        return data

    outputs = build_print_files(
        items, spec, job=job.name, period=period, fetch=fetch,
        window=(window.left, window.top, window.width, window.height) if window else None)
    version = hashlib.sha256(spec.model_dump_json().encode()).hexdigest()
    for output in outputs:
        batch = output.batch
        summary.batches += 1
        summary.envelopes += len(batch.envelopes)
        summary.documents += batch.documents
        summary.sheets += batch.sheets
        summary.pages += output.stream.pages
        summary.blank_pages += output.stream.blanks
        for attribute, doc_type, media_type, extension in OUTPUTS:
            value = getattr(output, attribute)
            data = value.data if attribute == "stream" else value
            pages = output.stream.pages if attribute == "stream" else \
                1 if attribute == "cover" else None
            key, written = _archive(job, settings, period, store, index, run_id, version,
                                    f"print-{batch.number:03d}", doc_type, media_type,
                                    extension, data, pages)
            summary.written += written
            summary.unchanged += not written
            if attribute == "stream":
                summary.files.append(key)
    summary.withdrawn = _withdraw_stale(job, period, index, len(outputs))
    return summary


def _archive(job: JobSpec, settings: Settings, period: str, store: Store, index: SqlIndex,
             run_id: str, version: str, record_key: str, doc_type: str, media_type: str,
             extension: str, data: bytes, pages: int | None) -> tuple[str, bool]:
    """Archive one output idempotently; return its storage key and whether it was written."""
    slots = Slots(index, store)
    key = SlotKey(job=job.name, period=period, record_key=record_key, document_type=doc_type,
                  channel=PRINT_CHANNEL)
    sha = sha256_of(data)
    existing = slots.find(key)
    if existing is not None and existing.sha256 == sha and store.exists(existing.storage_key):
        return existing.storage_key, False
    with slots.slot(key, run_id) as slot:
        doc_id = slot.document_id()
        storage_key, _snapshot_key = slot.keys(doc_id, extension)
        created = datetime.now(UTC)
        retain = retention_until(settings, job.retention_class, created)
        entry = ArchiveEntry(
            document_id=doc_id, job=job.name, run_id=run_id, period=period,
            record_key=record_key, customer_id="_print", document_type=doc_type,
            channel=PRINT_CHANNEL, locale="", template_version=version, page_count=pages,
            byte_size=len(data), sha256=sha, storage_key=storage_key, media_type=media_type,
            created_at=created, retention_until=retain, revision=slot.revision)
        slot.store(entry, Artifact(channel=PRINT_CHANNEL, media_type=media_type,
                                   extension=extension, data=data, sha256=sha,
                                   page_count=pages))
        slot.complete(entry, supersede=Supersession(PRINT_ACTOR,
                                                    f"print files rebuilt by run {run_id}"))
    return storage_key, True


def _withdraw_stale(job: JobSpec, period: str, index: SqlIndex, batches: int) -> int:
    """Withdraw print outputs of batch numbers beyond ``batches`` (the plan got shorter)."""
    withdrawn = 0
    stale = index.documents.entries(job=job.name, period=period, channel=PRINT_CHANNEL)
    for entry in list(stale):
        number = entry.record_key.removeprefix("print-")
        if number.isdigit() and int(number) > batches:
            index.documents.withdraw(
                Slot(job=job.name, period=period, record_key=entry.record_key,
                     channel=PRINT_CHANNEL, document_type=entry.document_type),
                PRINT_ACTOR, f"batch {number} no longer in the print plan ({batches} batches)")
            withdrawn += 1
    return withdrawn
