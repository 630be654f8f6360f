"""The per-record flow, in a warm worker: record in, archived documents, sends, index rows out.

Takes a `WorkerConfig` (once per process) and then `Record` values; gives one `Outcome` per
record, with one `ChannelOutcome` per channel. `Worker` loads the job, the templates, the
brand fonts and stylesheets, opens the store and the index once (and each transport on first
use, kept open: one SMTP connection per process), and then for each record:

    route (factory.routing) ─► for each routed channel, in `factory.models.CHANNEL_ORDER`:
      the channel's plug-in (`factory.pipeline.channels`: pdf, print, email, sms, peppol,
      webhook), each writing through the slot API (`factory.archive.slots`)

Each channel is its own slot, so each is idempotent on its own: a rerun does only what is
missing. The worker knows no channel by name: it builds the plug-ins the job lists (the
registry), opens their transports (``config.transports`` and the plug-in's options) and
hands each the record, its route and the record's shared context (the archived PDF).

Errors become outcomes, never exceptions: permanent ones (template, resource, bad data, a
transport's refusal) fail the channel at once; retryable ones (index locked, store timeout,
SMTP 4xx, gateway 5xx) are tried ``attempts`` times with backoff (`factory.pipeline.retry`).
The first failed channel fails the record; the channels after it are left for the rerun. A
record a newer run took over (`FencedError`: this run was declared abandoned, or the newer run
holds the claim) is handed over: skipped, not failed, and nothing more of it is done here.
`worker_for` keeps one `Worker` per process and run.
"""

from __future__ import annotations

import contextlib
import json
from datetime import datetime
from typing import Any

from factory.archive import open_index, open_store
from factory.archive.identity import customer_identity
from factory.archive.index import SqlIndex
from factory.archive.invoices import find_invoice
from factory.archive.keys import SlotKey
from factory.archive.slots import SlotBatch, Slots
from factory.archive.store import Store
from factory.config import retention_until
from factory.deliver import Transport, open_transport
from factory.errors import ConfigError, FactoryError
from factory.models import (
    ArchiveEntry,
    Artifact,
    ChannelOutcome,
    ChannelStatus,
    Outcome,
    Period,
    Record,
    Route,
    Status,
)
from factory.observe.logs import logged_outcome
from factory.pipeline.channels.base import Channel, RecordContext, channel_class
from factory.pipeline.chunk import Chunk, Processed
from factory.pipeline.config import CHANNEL, WorkerConfig
from factory.pipeline.delivery import Deliverer
from factory.pipeline.document import DocumentRenderer
from factory.pipeline.fallback import with_fallback
from factory.pipeline.garbage import settle_warm_state
from factory.pipeline.retry import RetryPolicy
from factory.pipeline.settle import archived_by_run
from factory.routing import route_record

RECORD_MEDIA_TYPE = "application/json"
#: Channels whose results are not documents of the record (print queues the PDF's).
_NOT_DOCUMENTS = frozenset({"print"})
#: Channels rendered from the message templates (`MessageRenderer`).
_MESSAGES = frozenset({"email", "sms"})


class Worker:
    """Everything heavy for one run, built once per process; the `Services` of its channels."""

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
        self.slots = Slots(self.index, self.store)
        self.retry = RetryPolicy(self.job.name, config.attempts, config.backoff)
        self._messages: Any = None
        if _MESSAGES & set(self.job.channels):
            self.messages()  # compile the message templates now, not on the first record
        self.transports: dict[str, Transport] = {}
        self.deliverer = Deliverer(
            job=self.job.name, period=self.period.code, document_type=self.job.document_type,
            run_id=config.run_id, store=self.store, index=self.index, slots=self.slots,
            transport=self.transport, resend_unknown=config.resend_unknown)
        self.channels: dict[str, Channel] = {
            name: channel_class(name)(self) for name in self.job.channels}
        for channel in self.channels.values():
            missing = [need for need in channel.needs if need not in self.channels]
            if missing:
                raise ConfigError(f"channel {channel.name!r} needs channel(s)"
                                  f" {', '.join(missing)} in the job's channels")

    def channel(self, name: str) -> Channel:
        """The job's channel ``name``; one outside the job's list (a send-time fallback's
        target) is built on first use."""
        found = self.channels.get(name)
        if found is None:
            found = self.channels[name] = channel_class(name)(self)
        return found

    def messages(self) -> Any:
        """The job's `MessageRenderer` (email and SMS templates), built on first use."""
        if self._messages is None:
            from factory.pipeline.messages import MessageRenderer

            self._messages = MessageRenderer(self.job, self.documents.templates,
                                             self.documents.schema)
        return self._messages

    def transport(self, channel: str) -> Transport:
        """The transport of ``channel``, opened on first use and kept for the process."""
        found = self.transports.get(channel)
        if found is None:
            options = self.channels[channel].transport_options()
            url = self.config.transport_url(channel)
            if not url or options is None:
                raise ConfigError(f"no {channel} transport configured")
            found = self.transports[channel] = open_transport(url, options)
        return found

    def close(self) -> None:
        for transport in self.transports.values():
            _quietly(transport.close)
        self.transports.clear()
        self.index.close()

    def process_chunk(self, records: list[Record], holder: str | None = None) -> list[Outcome]:
        """Every record of a task, its document slots claimed and completed together."""
        chunk = self.chunk(records, holder)
        try:
            return chunk.settle([chunk.process(record) for record in records])
        finally:
            chunk.close()

    def chunk(self, records: list[Record], holder: str | None = None) -> Chunk:
        """The task of ``records`` (`factory.pipeline.chunk`): ``process`` each, then
        ``settle`` the outcomes."""
        return Chunk(self, records, holder)

    @logged_outcome  # ops: one structured log line per record
    def process(self, record: Record, holder: str | None = None) -> Outcome:
        """Process one record on every channel routing gives it; never raises a FactoryError.

        ``holder`` names the unit of work (a Celery task id) in the record's claims, so that a
        redelivery of the same unit takes over the claims of a worker that died holding them.
        """
        return self.run_record(record, holder).outcome

    def run_record(self, record: Record, holder: str | None = None,
                   batch: SlotBatch | None = None) -> Processed:
        """`process` without its log line; with ``batch``, the record's document slot comes
        from the task's batch, and its completion may wait for the batch's (`Chunk`)."""
        route = route_record(self.job, record)
        suppressed = tuple(ChannelOutcome(channel, ChannelStatus.SUPPRESSED, reason=why)
                           for channel, why in route.suppressed)
        context = RecordContext(record, route, holder, self, batch=batch)
        if route.failure:
            return Processed(Outcome(record.key, record.position, Status.FAILED,
                                     reason=f"routing: {route.failure}", channels=suppressed),
                             [], suppressed, context)
        results: list[ChannelOutcome] = []

        def send(name: str, where: Route) -> ChannelOutcome:
            channel = self.channel(name)
            return self.retry.run(name, lambda: channel.process(record, where, context))

        for name in route.channels:
            # A refused email/SMS goes once to the route's next channel (factory.pipeline.fallback)
            done, refused = with_fallback(self, record, route, name, send)
            results.extend(done)
            suppressed += refused
            result = done[-1]
            if result.status is ChannelStatus.FAILED or result.handed_over:
                break
        return Processed(self.outcome(record, results, suppressed, context), results,
                         suppressed, context)

    def settle_interrupted(self, record: Record, holder: str | None, reason: str) -> Outcome:
        """The outcome of ``record`` when its processing was cut off at an arbitrary point (a
        Celery soft time limit): the claims of ``holder`` are dropped, and the record counts
        as archived if the index shows this run archived it (`archived_by_run`); otherwise it
        failed, retryable, with ``reason``, and the next attempt picks it up where it stopped."""
        if holder:
            _quietly(self.index.claims.release_held_by, self.config.run_id, holder)
        try:
            entry = self.slots.find(self.slot_key(record, CHANNEL))
        except FactoryError:
            entry = None
        return archived_by_run(self.job, record, entry, self.config.run_id) or Outcome(
            record.key, record.position, Status.FAILED, retryable=True, reason=reason)

    def outcome(self, record: Record, results: list[ChannelOutcome],
                suppressed: tuple[ChannelOutcome, ...], context: RecordContext) -> Outcome:
        """The record's `Outcome` from its channels' outcomes."""
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
                       pages=context.pages, byte_size=context.byte_size,
                       document_ids=tuple(r.document_id for r in results if r.document_id
                                          and r.status is ChannelStatus.DONE
                                          and r.channel not in _NOT_DOCUMENTS),
                       rendered=rendered, channels=channels)

    def slot_key(self, record: Record, channel: str) -> SlotKey:
        return SlotKey(job=self.job.name, period=self.period.code, record_key=record.key,
                       document_type=self.job.document_type, channel=channel)

    def entry(self, record: Record, channel: str, doc_id: str, artifact: Artifact, key: str,
              snapshot_key: str, created: datetime, revision: int,
              record_sha256: str | None = None) -> ArchiveEntry:
        """The index row of a document of ``record`` on ``channel``."""
        retain = retention_until(self.config.settings, self.job.retention_class, created)
        return ArchiveEntry(
            document_id=doc_id, job=self.job.name, run_id=self.config.run_id,
            period=self.period.code, record_key=record.key, customer_id=record.customer_id,
            document_type=self.job.document_type, channel=channel, locale=record.locale,
            template_version=self.documents.version, page_count=artifact.page_count,
            byte_size=artifact.byte_size, sha256=artifact.sha256, storage_key=key,
            media_type=artifact.media_type, created_at=created, retention_until=retain,
            revision=revision, record_storage_key=snapshot_key, record_sha256=record_sha256,
            **customer_identity(record.data, self.job.print_.address.name)._asdict(),
        )

    def snapshot(self, record: Record, doc_id: str, created: datetime,
                 computed: dict[str, Any] | None = None) -> Artifact:
        return _record_snapshot(record, doc_id, self, created, computed)


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
    # One line, no indent: only then does the json module use its C encoder (0.12 ms for a
    # statement's 17 KiB snapshot instead of 0.46 ms indented); `jq .` reads it back pretty.
    data = json.dumps(body, ensure_ascii=False, sort_keys=True).encode("utf-8")
    return Artifact.of("record", RECORD_MEDIA_TYPE, "json", data)


def _quietly(function: Any, *args: Any) -> None:
    with contextlib.suppress(FactoryError):
        function(*args)


_WORKERS: dict[str, Worker] = {}


def worker_for(config: WorkerConfig) -> Worker:
    """The warm `Worker` of this process for ``config``'s run, built on first use.

    Once built, everything alive (modules, fonts, parsed CSS, compiled templates) is moved out
    of the garbage collector's sight and the collector tuned for one collection per document
    (`factory.pipeline.garbage`).
    """
    worker = _WORKERS.get(config.run_id)
    if worker is None:
        for old in _WORKERS.values():
            old.close()
        _WORKERS.clear()
        worker = _WORKERS[config.run_id] = Worker(config)
        settle_warm_state()
    return worker
