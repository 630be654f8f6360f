"""The per-record flow, in a warm worker: record in, archived document and index row out.

Takes a `WorkerConfig` (once per process) and then `Record` values; gives one `Outcome` per
record. `Worker` loads the job, the templates, the brand fonts and stylesheets, opens the
store and the index once, and then for each record:

    skip if archived (by this run: count as archived) ─► claim ─► render HTML ─► render PDF
    ─► put record snapshot and PDF ─► complete (index row in, claim out)
    ─► drop the replaced object on --force

Errors become outcomes, never exceptions: permanent ones (template, resource, bad data) fail
the record at once; retryable ones (index locked, store timeout) are tried ``attempts`` times
with backoff. `worker_for` keeps one `Worker` per process and run.
"""

from __future__ import annotations

import contextlib
import gc
import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from factory.archive import (
    ClaimBusy,
    Slot,
    document_id,
    document_key,
    open_index,
    open_store,
    record_snapshot_key,
)
from factory.archive.index import Claim, SqlIndex
from factory.archive.store import Store
from factory.config import retention_until
from factory.errors import FactoryError, RenderError
from factory.jobs import load_job
from factory.models import ArchiveEntry, Artifact, Outcome, Period, Record, Status
from factory.pipeline.config import CHANNEL, WorkerConfig
from factory.pipeline.document import DocumentRenderer

RECORD_MEDIA_TYPE = "application/json"


class Worker:
    """Everything heavy for one run, built once per process."""

    def __init__(self, config: WorkerConfig) -> None:
        self.config = config
        self.job = load_job(Path(config.job_path))
        self.period = Period.parse(config.period)
        self.documents = DocumentRenderer(self.job, config.settings, self.period, config.issued,
                                          expected_version=config.template_version)
        self.store: Store = open_store(config.store_url)
        self.index: SqlIndex = open_index(config.index_url, migrate=False)

    def close(self) -> None:
        self.index.close()

    def process_chunk(self, records: list[Record], holder: str | None = None) -> list[Outcome]:
        return [self.process(record, holder) for record in records]

    def process(self, record: Record, holder: str | None = None) -> Outcome:
        """Process one record, retrying transient failures; never raises a FactoryError.

        ``holder`` names the unit of work (a Celery task id) in the record's claim, so that a
        redelivery of the same unit takes over the claim of a worker that died holding it.
        """
        delay = 0.2
        for attempt in range(1, self.config.attempts + 1):
            try:
                return self._process_once(record, holder)
            except FactoryError as exc:
                if exc.retryable and attempt < self.config.attempts:
                    time.sleep(delay)
                    delay *= 4
                    continue
                return Outcome(record.key, record.position, Status.FAILED,
                               reason=_reason(exc), retryable=exc.retryable)
        raise AssertionError("unreachable")

    def _slot(self, record: Record) -> Slot:
        return Slot(self.job.name, self.period.code, record.key, CHANNEL,
                    self.job.document_type)

    def _process_once(self, record: Record, holder: str | None = None) -> Outcome:
        slot = self._slot(record)
        found = self.index.find(slot)
        if found is not None and found.run_id == self.config.run_id:
            return _archived_before(record, found)  # a redelivered task: done by this run
        if not self.config.force and found is not None:
            return Outcome(record.key, record.position, Status.SKIPPED)
        claim = self.index.claim(slot, self.config.run_id, holder=holder)
        if claim.existing is not None and claim.existing.run_id == self.config.run_id:
            self.index.release(claim)
            return _archived_before(record, claim.existing)
        if claim.existing is not None and not self.config.force:
            self.index.release(claim)
            return Outcome(record.key, record.position, Status.SKIPPED)
        try:
            entry, artifact = self._render_and_store(record, claim)
            replaced = self.index.complete(claim, entry)
        except ClaimBusy:
            raise
        except BaseException:
            _quietly(self.index.release, claim)
            raise
        if replaced is not None and replaced.storage_key != entry.storage_key:
            for key in (replaced.storage_key, replaced.record_storage_key):
                if key:
                    _quietly(self.store.delete, key)
        return Outcome(record.key, record.position, Status.ARCHIVED,
                       pages=artifact.page_count or 0, byte_size=artifact.byte_size,
                       document_ids=(entry.document_id,), rendered=True)

    def _render_and_store(self, record: Record, claim: Claim) -> tuple[ArchiveEntry, Artifact]:
        revision = claim.existing.revision + 1 if claim.existing else 1
        doc_id = document_id(self.job.name, self.period.code, record.key,
                             self.job.document_type, CHANNEL, revision)
        _html, artifact = self.documents.render(record, doc_id)
        key = document_key(self.job.name, self.period.code, record.key, doc_id,
                           artifact.extension)
        created = datetime.now(UTC)
        retain = retention_until(self.config.settings, self.job.retention_class, created)
        snapshot_key = record_snapshot_key(key)
        snapshot = _record_snapshot(record, doc_id, self, created)
        self.store.put(snapshot_key, snapshot.data, media_type=RECORD_MEDIA_TYPE,
                       sha256=snapshot.sha256, retain_until=retain)
        self.store.put(key, artifact.data, media_type=artifact.media_type,
                       sha256=artifact.sha256, retain_until=retain)
        entry = ArchiveEntry(
            document_id=doc_id, job=self.job.name, run_id=self.config.run_id,
            period=self.period.code, record_key=record.key, customer_id=record.customer_id,
            document_type=self.job.document_type, channel=CHANNEL, locale=record.locale,
            template_version=self.documents.version, page_count=artifact.page_count,
            byte_size=artifact.byte_size, sha256=artifact.sha256, storage_key=key,
            media_type=artifact.media_type, created_at=created, retention_until=retain,
            revision=revision, record_storage_key=snapshot_key,
        )
        return entry, artifact


def _archived_before(record: Record, entry: ArchiveEntry) -> Outcome:
    """This run archived the record already (an at-least-once redelivery): count it once, as
    archived, without rendering it again."""
    return Outcome(record.key, record.position, Status.ARCHIVED, pages=entry.page_count or 0,
                   byte_size=entry.byte_size, document_ids=(entry.document_id,))


def _record_snapshot(record: Record, doc_id: str, worker: Worker, created: datetime) -> Artifact:
    """The validated record and everything needed to render it again, as JSON."""
    body: dict[str, Any] = {
        "document_id": doc_id,
        "job": worker.job.name,
        "document_type": worker.job.document_type,
        "template_set": worker.job.template_set,
        "brand": worker.job.brand,
        "template_version": worker.documents.version,
        "period": worker.period.code,
        "issued": worker.config.issued.isoformat(),
        "locale": record.locale,
        "record_key": record.key,
        "customer_id": record.customer_id,
        "source": {"name": record.position.source, "index": record.position.index,
                   "line": record.position.line},
        "created_at": created.isoformat(),
        "record": record.data,
    }
    data = json.dumps(body, ensure_ascii=False, sort_keys=True, indent=1).encode("utf-8")
    return Artifact.of("record", RECORD_MEDIA_TYPE, "json", data)


def _reason(exc: FactoryError) -> str:
    kind = {
        "TemplateError": "template error",
        "ResourceBlockedError": "blocked resource",
        "IntegrityError": "integrity error",
    }.get(type(exc).__name__)
    if kind is None:
        kind = "render error" if isinstance(exc, RenderError) else type(exc).__name__
    return f"{kind}: {exc}"


def _quietly(function: Any, *args: Any) -> None:
    with contextlib.suppress(FactoryError):
        function(*args)


_WORKERS: dict[str, Worker] = {}


def worker_for(config: WorkerConfig) -> Worker:
    """The warm `Worker` of this process for ``config``'s run, built on first use.

    Once built, everything alive (modules, fonts, parsed CSS, compiled templates) is moved out
    of the garbage collector's sight with `gc.freeze`: it lives as long as the process, and
    WeasyPrint allocates so much per document that full collections rescanning it cost ~3% of
    the rendering time (measured in instructions with callgrind).
    """
    worker = _WORKERS.get(config.run_id)
    if worker is None:
        for old in _WORKERS.values():
            old.close()
        _WORKERS.clear()
        worker = _WORKERS[config.run_id] = Worker(config)
        gc.collect()
        gc.freeze()
    return worker
