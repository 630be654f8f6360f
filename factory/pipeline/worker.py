"""The per-record flow, in a warm worker: record in, archived documents, sends, index rows out.

Takes a `WorkerConfig` (once per process) and then `Record` values; gives one `Outcome` per
record, with one `ChannelOutcome` per channel. `Worker` loads the job, the templates, the
brand fonts and stylesheets, opens the store and the index once (and each transport on first
use, kept open: one SMTP connection per process), and then for each record:

    route (factory.routing) ─► for each routed channel, in the order pdf, print, email, sms:
      pdf:   skip if archived (by this run: done) ─► claim ─► render HTML ─► render PDF ─► put
             record snapshot and PDF under names unique to the attempt ─► complete (claim
             checked, index row in, claim out; on --force the new revision supersedes the old,
             which stays stored and indexed)
      print: the PDF handed to the print stream once (a "queued" delivery row)
      email, sms: see `factory.pipeline.delivery` (archive, record "sending", send, "sent")

Each channel is its own slot, so each is idempotent on its own: a rerun does only what is
missing. A numbered document type (invoices: the job's plugin gives a series) renders inside
`SqlIndex.complete_numbered`, which assigns the series' next number in the same transaction
that archives the PDF, so a failed or retried record never uses up a number.

Errors become outcomes, never exceptions: permanent ones (template, resource, bad data, a
transport's refusal) fail the channel at once; retryable ones (index locked, store timeout,
SMTP 4xx, gateway 5xx) are tried ``attempts`` times with backoff. The first failed channel fails
the record; the channels after it are left for the rerun. A record a newer run took over
(`FencedError`: this run was declared abandoned, or the newer run holds the claim) is handed
over: skipped, not failed, and nothing more of it is done here. `worker_for` keeps one `Worker` per
process and run.
"""

from __future__ import annotations

import contextlib
import gc
import json
import time
from datetime import UTC, datetime
from typing import Any

from factory.archive import (
    ClaimBusy,
    Slot,
    delivery_key,
    document_id,
    document_key,
    open_index,
    open_store,
    record_snapshot_key,
)
from factory.archive.audit import Actor
from factory.archive.index import Claim, SqlIndex, Supersession
from factory.archive.invoices import find_invoice
from factory.archive.store import Store
from factory.config import retention_until
from factory.deliver import Transport, TransportOptions, open_transport
from factory.errors import (
    ConfigError,
    DeliveryError,
    FactoryError,
    FencedError,
    LegalHoldError,
    RenderError,
)
from factory.models import (
    ArchiveEntry,
    Artifact,
    Channel,
    ChannelOutcome,
    ChannelStatus,
    Outcome,
    Period,
    Record,
    Route,
    Status,
)
from factory.pipeline.config import CHANNEL, WorkerConfig
from factory.pipeline.delivery import Deliverer, Send
from factory.pipeline.document import DocumentRenderer
from factory.pipeline.peppol import peppol_send, peppol_transport
from factory.pipeline.settle import archived_by_run
from factory.routing import route_record

RECORD_MEDIA_TYPE = "application/json"


class Worker:
    """Everything heavy for one run, built once per process."""

    def __init__(self, config: WorkerConfig) -> None:
        self.config = config
        self.job = config.load_job()
        # What record snapshots keep of the job (see `_record_snapshot`): the same for every one.
        self.job_spec = self.job.model_dump(mode="json", by_alias=True,
                                            exclude={"source", "archive", "path"})
        self.period = Period.parse(config.period)
        self.documents = DocumentRenderer(self.job, config.settings, self.period, config.issued,
                                          expected_version=config.template_version)
        self.store: Store = open_store(config.store_url)
        self.index: SqlIndex = open_index(config.index_url, migrate=False)
        bind = getattr(self.documents.plugin, "bind_archive", None)
        if bind is not None:  # an invoice job: credit notes must name an issued invoice
            bind(lambda number: find_invoice(self.index, number))
        self.messages: Any = None
        if {Channel.EMAIL, Channel.SMS} & set(self.job.channels):
            from factory.pipeline.messages import MessageRenderer

            self.messages = MessageRenderer(self.job, self.documents.templates,
                                            self.documents.schema)
        self.transports: dict[str, Transport] = {}
        self.deliverer = Deliverer(
            job=self.job.name, period=self.period.code, document_type=self.job.document_type,
            run_id=config.run_id, store=self.store, index=self.index,
            transport=self.transport, resend_unknown=config.resend_unknown)

    def transport(self, channel: str) -> Transport:
        """The transport of ``channel``, opened on first use and kept for the process."""
        found = self.transports.get(channel)
        if found is None:
            if channel == Channel.PEPPOL:
                found = self.transports[channel] = peppol_transport(self.config, self.job)
                return found
            url = self.config.email_url if channel == Channel.EMAIL else self.config.sms_url
            if not url:
                raise ConfigError(f"no {channel} transport configured")
            spec = self.job.email if channel == Channel.EMAIL else self.job.sms
            options = TransportOptions(
                channel=channel,
                rate_per_second=getattr(spec, "rate_per_second", 0.0),
                gateway=spec.gateway.model_dump() if channel == Channel.SMS and spec else {})
            found = self.transports[channel] = open_transport(url, options)
        return found

    def close(self) -> None:
        for transport in self.transports.values():
            _quietly(transport.close)
        self.transports.clear()
        self.index.close()

    def process_chunk(self, records: list[Record], holder: str | None = None) -> list[Outcome]:
        return [self.process(record, holder) for record in records]

    def process(self, record: Record, holder: str | None = None) -> Outcome:
        """Process one record on every channel routing gives it; never raises a FactoryError.

        ``holder`` names the unit of work (a Celery task id) in the record's claims, so that a
        redelivery of the same unit takes over the claims of a worker that died holding them.
        """
        route = route_record(self.job, record)
        suppressed = tuple(ChannelOutcome(channel, ChannelStatus.SUPPRESSED, reason=why)
                           for channel, why in route.suppressed)
        if route.failure:
            return Outcome(record.key, record.position, Status.FAILED,
                           reason=f"routing: {route.failure}", channels=suppressed)
        results: list[ChannelOutcome] = []
        pdf: dict[str, Any] = {}
        for channel in route.channels:
            result = self._with_retries(channel, lambda c=channel: self._channel(
                record, route, c, pdf, holder))
            results.append(result)
            if result.status is ChannelStatus.FAILED or result.handed_over:
                break
        return self._outcome(record, results, suppressed, pdf)

    def settle_interrupted(self, record: Record, holder: str | None, reason: str) -> Outcome:
        """The outcome of ``record`` when its processing was cut off at an arbitrary point (a
        Celery soft time limit): the claims of ``holder`` are dropped, and the record counts
        as archived if the index shows this run archived it (`archived_by_run`); otherwise it
        failed, retryable, with ``reason``, and the next attempt picks it up where it stopped."""
        if holder:
            _quietly(self.index.release_held_by, self.config.run_id, holder)
        try:
            entry = self.index.find(self._slot(record))
        except FactoryError:
            entry = None
        return archived_by_run(self.job, record, entry, self.config.run_id) or Outcome(
            record.key, record.position, Status.FAILED, retryable=True, reason=reason)

    def _with_retries(self, channel: str, work: Any) -> ChannelOutcome:
        delay = 0.2
        for attempt in range(1, self.config.attempts + 1):
            try:
                return work()
            except FencedError as exc:
                return ChannelOutcome(channel, ChannelStatus.SKIPPED, reason=str(exc),
                                      handed_over=True)
            except FactoryError as exc:
                if exc.stops_run:  # a full disk: the runner stops the run, not this record
                    raise
                if exc.retryable and attempt < self.config.attempts:
                    time.sleep(delay)
                    delay *= 4
                    continue
                return ChannelOutcome(channel, ChannelStatus.FAILED, reason=_reason(exc),
                                      retryable=exc.retryable)
        raise AssertionError("unreachable")

    def _outcome(self, record: Record, results: list[ChannelOutcome],
                 suppressed: tuple[ChannelOutcome, ...], pdf: dict[str, Any]) -> Outcome:
        channels = tuple(results) + suppressed
        rendered = any(r.rendered for r in results)
        failed = next((r for r in results if r.status is ChannelStatus.FAILED), None)
        if failed is not None:
            reason = failed.reason or "unknown"
            if len(self.job.channels) > 1:
                reason = f"{failed.channel}: {reason}"
            return Outcome(record.key, record.position, Status.FAILED, reason=reason,
                           retryable=failed.retryable, rendered=rendered, channels=channels)
        if all(r.status is ChannelStatus.SKIPPED for r in results):
            return Outcome(record.key, record.position, Status.SKIPPED, channels=channels)
        return Outcome(record.key, record.position, Status.ARCHIVED,
                       pages=pdf.get("pages", 0), byte_size=pdf.get("byte_size", 0),
                       document_ids=tuple(r.document_id for r in results if r.document_id
                                          and r.status is ChannelStatus.DONE
                                          and r.channel != Channel.PRINT),
                       rendered=rendered, channels=channels)

    def _channel(self, record: Record, route: Route, channel: str, pdf: dict[str, Any],
                 holder: str | None = None) -> ChannelOutcome:
        if channel == Channel.PDF:
            return self._pdf_once(record, pdf, holder)
        if channel == Channel.PRINT:
            return self._print_once(record, pdf)
        if channel == Channel.PEPPOL:
            return self.deliverer.deliver(peppol_send(
                self, record, route, self._pdf_entry(record, pdf), holder,
                lambda doc_id, created: _record_snapshot(record, doc_id, self, created)))
        recipient = route.email if channel == Channel.EMAIL else route.phone
        if recipient is None or self.messages is None:
            raise DeliveryError(f"no {channel} recipient")
        messages = self.messages
        if channel == Channel.EMAIL:
            attach = self.job.email is not None and self.job.email.attach_pdf

            def render(meta: Any) -> tuple[Artifact, Any]:
                # The PDF this record just archived, or (archived by an earlier run) the store's.
                data = (pdf.get("data") or self.store.get(
                    self._pdf_entry(record, pdf).storage_key)) if attach else None
                return messages.email(record, meta, recipient, meta_key(meta), data)
        else:
            def render(meta: Any) -> tuple[Artifact, Any]:
                return messages.sms(record, meta, recipient, meta_key(meta))

        def meta_key(_meta: Any) -> str:
            return delivery_key(self.job.name, self.period.code, record.key,
                                self.job.document_type, channel)

        return self.deliverer.deliver(Send(
            record=record, channel=channel, recipient=recipient, render=render,
            snapshot=lambda doc_id, created: _record_snapshot(record, doc_id, self, created),
            entry=lambda doc_id, artifact, key, snapshot_key, created: self._entry(
                record, channel, doc_id, artifact, key, snapshot_key, created, 1),
            meta=self.documents.meta, holder=holder))

    def _slot(self, record: Record, channel: str = CHANNEL) -> Slot:
        return Slot(self.job.name, self.period.code, record.key, channel,
                    self.job.document_type)

    def _pdf_entry(self, record: Record, pdf: dict[str, Any]) -> ArchiveEntry:
        entry = pdf.get("entry") or self.index.find(self._slot(record))
        if entry is None:
            raise RenderError("the record's PDF is not archived")
        pdf["entry"] = entry
        return entry

    def _print_once(self, record: Record, pdf: dict[str, Any]) -> ChannelOutcome:
        entry = self._pdf_entry(record, pdf)
        slot = self._slot(record, Channel.PRINT)
        key = delivery_key(self.job.name, self.period.code, record.key,
                           self.job.document_type, Channel.PRINT)
        queued = self.index.queue_print(slot, key, run_id=self.config.run_id,
                                        document_id=entry.document_id,
                                        storage_key=entry.storage_key,
                                        recipient=record.customer_id)
        return ChannelOutcome(Channel.PRINT,
                              ChannelStatus.DONE if queued else ChannelStatus.SKIPPED,
                              document_id=entry.document_id)

    def _pdf_once(self, record: Record, pdf: dict[str, Any], holder: str | None = None
                  ) -> ChannelOutcome:
        slot = self._slot(record)
        found = self.index.find(slot)
        if found is not None and found.run_id == self.config.run_id:
            return _archived_before(pdf, found)  # a redelivered task: done by this run
        if not self.config.force and found is not None:
            pdf["entry"] = found
            return ChannelOutcome(CHANNEL, ChannelStatus.SKIPPED, document_id=found.document_id)
        claim = self.index.claim(slot, self.config.run_id, holder=holder)
        if claim.taken_from:
            self._drop_attempt(slot, claim.taken_from)
        if claim.existing is not None and claim.existing.run_id == self.config.run_id:
            self.index.release(claim)
            return _archived_before(pdf, claim.existing)
        if claim.existing is not None and not self.config.force:
            self.index.release(claim)
            pdf["entry"] = claim.existing
            return ChannelOutcome(CHANNEL, ChannelStatus.SKIPPED,
                                  document_id=claim.existing.document_id)
        if claim.existing is not None and claim.existing_held:
            self.index.release(claim)
            raise LegalHoldError(f"document {claim.existing.document_id} is on legal hold: it"
                                 " cannot be replaced until it is released")
        series = self.documents.series(record)
        if claim.existing is not None and series is not None:
            self.index.release(claim)
            raise ConfigError(f"document {claim.existing.document_id} carries an issued number"
                              f" of series {series}: it is never rendered again; issue a"
                              " credit note instead")
        supersede = Supersession(Actor(self.config.actor, self.config.actor_role),
                                 self.config.force_reason)
        try:
            if series is None:
                entry, artifact = self._render_and_store(record, claim)
                self.index.complete(claim, entry, supersede=supersede)
            else:
                before = getattr(self.documents.plugin, "before_number", None)
                if before is not None:  # index reads the numbering transaction would block
                    before(record)
                _old, (entry, artifact) = self.index.complete_numbered(
                    claim, series, lambda number: self._render_and_store(record, claim, number))
        except ClaimBusy:
            raise
        except BaseException:
            _quietly(self._drop_attempt, slot, claim.attempt)
            _quietly(self.index.release, claim)
            raise
        pdf.update(entry=entry, pages=artifact.page_count or 0, byte_size=artifact.byte_size,
                   data=artifact.data)
        return ChannelOutcome(CHANNEL, ChannelStatus.DONE, rendered=True,
                              document_id=entry.document_id)

    def _drop_attempt(self, slot: Slot, attempt: str) -> int:
        """Remove the objects an attempt that can no longer complete wrote for ``slot`` (this
        one failed, or its claim was taken over from a dead worker), except any an index row
        points to; return how many. What cannot be removed (an S3 object under retention)
        stays, unindexed, and ``archive verify`` lists it."""
        indexed = {key for entry in self.index.revisions(slot)
                   for key in (entry.storage_key, entry.record_storage_key) if key}
        dropped = 0
        for key in list(self.store.keys(f"{slot.job}/{slot.period}/{slot.record_key}/")):
            if f".{attempt}." in key and key not in indexed:
                _quietly(self.store.delete, key)
                dropped += 1
        return dropped

    def _entry(self, record: Record, channel: str, doc_id: str, artifact: Artifact, key: str,
               snapshot_key: str, created: datetime, revision: int,
               record_sha256: str | None = None) -> ArchiveEntry:
        retain = retention_until(self.config.settings, self.job.retention_class, created)
        return ArchiveEntry(
            document_id=doc_id, job=self.job.name, run_id=self.config.run_id,
            period=self.period.code, record_key=record.key, customer_id=record.customer_id,
            document_type=self.job.document_type, channel=channel, locale=record.locale,
            template_version=self.documents.version, page_count=artifact.page_count,
            byte_size=artifact.byte_size, sha256=artifact.sha256, storage_key=key,
            media_type=artifact.media_type, created_at=created, retention_until=retain,
            revision=revision, record_storage_key=snapshot_key, record_sha256=record_sha256,
        )

    def _render_and_store(self, record: Record, claim: Claim, number: int | None = None
                          ) -> tuple[ArchiveEntry, Artifact]:
        revision = claim.existing.revision + 1 if claim.existing else 1
        doc_id = document_id(self.job.name, self.period.code, record.key,
                             self.job.document_type, CHANNEL, revision)
        _html, artifact, typed = self.documents.render_typed(record, doc_id, number)
        key = document_key(self.job.name, self.period.code, record.key, doc_id,
                           artifact.extension, claim.attempt)
        created = datetime.now(UTC)
        snapshot_key = record_snapshot_key(key)
        snapshot = _record_snapshot(record, doc_id, self, created,
                                    self.documents.snapshot(typed))
        entry = self._entry(record, CHANNEL, doc_id, artifact, key, snapshot_key, created,
                            revision, snapshot.sha256)
        self.store.put(snapshot_key, snapshot.data, media_type=RECORD_MEDIA_TYPE,
                       sha256=snapshot.sha256, retain_until=entry.retention_until)
        self.store.put(key, artifact.data, media_type=artifact.media_type,
                       sha256=artifact.sha256, retain_until=entry.retention_until)
        return entry, artifact


def _archived_before(pdf: dict[str, Any], entry: ArchiveEntry) -> ChannelOutcome:
    """This run archived the PDF already (an at-least-once redelivery of a task): count it once,
    as done, without rendering it again."""
    pdf.update(entry=entry, pages=entry.page_count or 0, byte_size=entry.byte_size)
    return ChannelOutcome(CHANNEL, ChannelStatus.DONE, document_id=entry.document_id)


def _record_snapshot(record: Record, doc_id: str, worker: Worker, created: datetime,
                     computed: dict[str, Any] | None = None) -> Artifact:
    """The validated record and everything needed to render it again, as JSON.

    ``job_spec`` keeps what rendering needs of the job file (schema, locales, render options), so a
    job file edited since cannot change what a re-render proves; the source and archive
    sections are left out: they may hold database or store URLs with credentials. ``computed``
    holds what a document-type plugin derived (an invoice's number and totals).
    """
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
        "job_spec": worker.job_spec,
    }
    if computed is not None:
        body["computed"] = computed
    data = json.dumps(body, ensure_ascii=False, sort_keys=True, indent=1).encode("utf-8")
    return Artifact.of("record", RECORD_MEDIA_TYPE, "json", data)


def _reason(exc: FactoryError) -> str:
    kind = {
        "TemplateError": "template error",
        "ResourceBlockedError": "blocked resource",
        "IntegrityError": "integrity error",
        "PermanentDeliveryError": "refused",
        "RetryableDeliveryError": "not delivered (retryable)",
        "LegalHoldError": "legal hold",
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
