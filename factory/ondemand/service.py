"""One record of a job rendered now, exactly as a batch record is: the pipeline's own `Worker`.

Takes a `JobSpec`, the record as a JSON object and who asks (`RenderRequest`); gives an
`OnDemandResult` (the archived PDF's document id, whether this request created it, the outcome
of every channel). The record is validated by the job's `RecordSchema` (a `RecordError` names
the field), routed, rendered, archived, indexed and delivered by `factory.pipeline.Worker`, so
templates, brands, archive, index, claims, revisions and transports are the batch's.

Runs: every job gets one *on-demand run* per day (executor ``ondemand``, period = the UTC
day), registered in the index like a batch run (`RunRepository.start_run`, so it is fenced, shows in
``docfactory runs`` and keeps a report with the counts of every request, its rejects and
failures). It is finished when the day changes or the service closes; another process of the
service adopts the live one instead of starting a second.

Warm: the service keeps, per job and period, up to ``pool_size`` built `Worker` values (fonts,
stylesheets, compiled templates, an open index and transports); a request borrows one, so
requests of one job render in parallel up to the pool size and the rest wait their turn.

Idempotency: the document's slot is (job, period, record key). Without an idempotency key the
record key is the record's own (a second request for the same record and period gets the
document already archived back, unless ``reason`` asks for a new revision). With one, the
record key is the record's key plus a digest of the idempotency key, so a retried request
lands on the same slot and gets the same document, and different keys give different
documents. ``period`` (a month or a day; default: today) picks the slot: the statement of
2026-10 is reissued with ``period = "2026-10"`` and a ``reason`` (a new revision; the old one
stays archived).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from factory.archive import RunConflict, open_index, open_store
from factory.archive.audit import Actor
from factory.archive.index import run_owner
from factory.archive.versions import keep_version
from factory.config import Settings, resolve_url
from factory.errors import ConfigError, FactoryError, InputError, RecordError
from factory.jobs import JobSpec, RecordSchema
from factory.jobs.schema import KEY_PATTERN
from factory.jobs.segments import segment_variants, segmenter_for
from factory.models import (
    ChannelStatus,
    Outcome,
    Period,
    RawRecord,
    Reject,
    RunReport,
    Status,
)
from factory.ondemand.lines import OnDemandRun
from factory.ondemand.warm import Job, ProcessRenderers, Renderers, ThreadRenderers
from factory.pipeline import CHANNEL, WorkerConfig
from factory.runner.accounting import RunState
from factory.runner.approval import approval_problem
from factory.runner.run import (
    RunOptions,
    archive_urls,
    check_force,
    check_seal,
    default_issued,
    new_run_id,
)
from factory.templates import DocumentTemplates
from factory.templates.blocks import LETTER_KEY
from factory.urls import mask_url, mask_urls_in

EXECUTOR = "ondemand"
HEARTBEAT_SECONDS = 30.0
#: How soon a run's report (index and report.json) shows a request's counts.
REPORT_SECONDS = 1.0
#: How often a request asks the index whether its run is still the live one (a run taken
#: over in between cannot write: its claims are fenced).
LIVE_CHECK_SECONDS = 5.0
#: Warm lines (job and period) kept at once; the least recently used is closed beyond this.
MAX_LINES = 8


@dataclass(frozen=True)
class RenderRequest:
    data: Mapping[str, Any]
    period: str | None = None
    reason: str = ""
    idempotency_key: str | None = None
    actor: Actor = field(default_factory=lambda: Actor("system", "system"))
    #: An interactive letter (its sanitised blocks, author, review: `factory.ondemand.letters`),
    #: carried in the record's data after validation, so the snapshot keeps it.
    letter: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class OnDemandResult:
    job: str
    period: str
    run_id: str
    record_key: str
    customer_id: str
    outcome: Outcome
    document_id: str | None
    created: bool

    @property
    def ok(self) -> bool:
        return self.outcome.status is not Status.FAILED

    def as_dict(self) -> dict[str, Any]:
        return {
            "job": self.job, "period": self.period, "run_id": self.run_id,
            "record_key": self.record_key, "customer_id": self.customer_id,
            "status": self.outcome.status.value, "created": self.created,
            "document_id": self.document_id,
            "reason": mask_urls_in(self.outcome.reason) if self.outcome.reason else None,
            "channels": [{"channel": c.channel, "status": c.status.value,
                          "document_id": c.document_id,
                          "reason": mask_urls_in(c.reason) if c.reason else None}
                         for c in self.outcome.channels],
        }


def record_key_for(key: str, idempotency_key: str | None, job: str) -> str:
    """The slot's record key: the record's own, or with a digest of the idempotency key."""
    if not idempotency_key:
        return key
    text = idempotency_key.strip()
    if not 1 <= len(text) <= 200 or not text.isprintable():
        raise InputError("Idempotency-Key must be 1-200 printable characters")
    digest = hashlib.sha256(f"{job}|{text}".encode()).hexdigest()[:16]
    derived = f"{key}.k{digest}"
    if not KEY_PATTERN.match(derived):
        raise RecordError(f"record key {key!r} is too long to carry an idempotency key"
                          " (at most 110 characters)", None)
    return derived


class OnDemandService:
    """Renders records of jobs on demand; thread-safe; `close` finishes the day's runs."""

    def __init__(self, settings: Settings, pool_size: int = 1,
                 today: Callable[[], date] | None = None, processes: bool = False) -> None:
        self.settings = settings
        self.pool_size = max(1, pool_size)
        self.today = today or (lambda: datetime.now(UTC).date())
        self._runs: dict[str, OnDemandRun] = {}
        self._renderers: Renderers = (
            ProcessRenderers(self.pool_size, settings.worker_memory_bytes) if processes
            else ThreadRenderers(self.pool_size, MAX_LINES))
        self._configs: dict[tuple[str, str, str, str], WorkerConfig] = {}
        self._schemas: dict[tuple[str, str], RecordSchema] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._beater = threading.Thread(target=self._heartbeats, daemon=True,
                                        name="docfactory-ondemand-heartbeat")
        self._beater.start()

    def render(self, job: JobSpec, request: RenderRequest) -> OnDemandResult:
        period = self._period(request.period)
        check_force(job, RunOptions(period=period.code, force=bool(request.reason.strip()),
                                    force_reason=request.reason))
        run = self._run(job)
        position = run.next_position()
        try:
            record = self._schema(job).validate(RawRecord(position, dict(request.data)))
            record = dataclasses.replace(record, key=record_key_for(
                record.key, request.idempotency_key, job.name))
            if request.letter is not None:
                record = dataclasses.replace(record, data={**record.data,
                                                           LETTER_KEY: dict(request.letter)})
            verdict = segmenter_for(job).classify(record.data, record.locale)
            if verdict.filtered is not None:
                detail = f"where {job.where!r} is false" if verdict.filtered == "where" \
                    else "no segment of the job matches"
                raise RecordError(f"the record is not one this job takes ({detail})", None)
        except RecordError as exc:
            key = request.data.get(job.key_field) if isinstance(request.data, Mapping) else None
            run.account(Reject(position, exc.reason, exc.field,
                               str(key) if isinstance(key, str | int) else None))
            raise
        outcome = self._renderers.render(Job(
            self._config(job, period, run.run_id), record, request.reason, request.actor.id,
            request.actor.role, check_same=bool(request.idempotency_key)))
        with run.lock:
            run.state.counts.input += 1
            run.state.planned_record(record, job.document_type)
            if verdict.segment is not None:  # the report's records per segment, as a batch's
                report = run.state.report
                report.segments[verdict.segment] = report.segments.get(verdict.segment, 0) + 1
                variant = segment_variants(job).get(verdict.segment)
                if variant:
                    report.variants[verdict.segment] = variant
        # A retried request this run answered already counts once: the second time, skipped.
        run.account(_counted_once(outcome))
        pdf = next((c for c in outcome.channels if c.channel == CHANNEL), None)
        return OnDemandResult(
            job=job.name, period=period.code, run_id=run.run_id, record_key=record.key,
            customer_id=record.customer_id, outcome=outcome,
            document_id=pdf.document_id if pdf else None,
            created=bool(pdf and pdf.status is ChannelStatus.DONE and pdf.rendered))

    def pdf(self, job: JobSpec, document_id: str) -> bytes:
        """The archived bytes of a document this service just gave (its job's store)."""
        store_url, index_url = archive_urls(job, self.settings)
        index = open_index(index_url, migrate=False)
        try:
            entry = index.documents.get(document_id)
        finally:
            index.close()
        if entry is None:
            raise ConfigError(f"document {document_id} is not in the index")
        return open_store(store_url).get(entry.storage_key)

    def close(self) -> None:
        self._stop.set()
        self._renderers.close()
        with self._lock:
            self._configs.clear()
            for run in self._runs.values():
                _quietly(run.finish)
                run.index.close()
            self._runs.clear()

    # -- internals -----------------------------------------------------------------------------

    def _schema(self, job: JobSpec) -> RecordSchema:
        key = (job.name, job.text or "")
        found = self._schemas.get(key)
        if found is None:
            if len(self._schemas) >= MAX_LINES:
                self._schemas.clear()
            found = self._schemas[key] = RecordSchema(job)
        return found

    def _period(self, code: str | None) -> Period:
        try:
            return Period.parse(code or self.today().isoformat())
        except ValueError as exc:
            raise InputError(str(exc)) from None

    def _run(self, job: JobSpec) -> OnDemandRun:
        day = self.today().isoformat()
        with self._lock:
            run = self._runs.get(job.name)
            if run is not None and run.day == day and (
                    time.monotonic() - run.checked < LIVE_CHECK_SECONDS or _still_running(run)):
                return run
            if run is not None:
                self._drop_job(job.name)
            run = self._runs[job.name] = self._start_run(job, day)
            return run

    def _drop_job(self, name: str) -> None:
        for key in [k for k in self._configs if k[0] == name]:
            self._renderers.forget(self._configs.pop(key).job_path)
        old = self._runs.pop(name, None)
        if old is not None:
            _quietly(old.finish)
            old.index.close()

    def _start_run(self, job: JobSpec, day: str) -> OnDemandRun:
        settings = self.settings
        templates = _templates(job, settings)
        check_seal(job, settings)
        store_url, index_url = archive_urls(job, settings)
        index = open_index(index_url)
        try:
            unapproved = approval_problem(job, templates.version, index)
            if unapproved:
                raise ConfigError(unapproved)
            live = index.runs.live_run(job.name, day)
            if live is not None and live.executor != EXECUTOR:
                raise RunConflict(f"run {live.run_id} of {job.name} for {day} is running;"
                                  " on-demand documents of this job wait for it")
            run_id = live.run_id if live is not None else new_run_id()
            if live is None:
                index.runs.start_run(run_id, job.name, day, executor=EXECUTOR,
                                     workers=self.pool_size, template_version=templates.version,
                                     dry_run=False, owner=run_owner(), actor=EXECUTOR)
            keep_version(open_store(store_url), index, templates.template_set)
        except BaseException:
            index.close()
            raise
        report = RunReport(run_id=run_id, job=job.name, period=day, dry_run=False,
                           started_at=datetime.now(UTC), template_version=templates.version,
                           workers=self.pool_size, executor=EXECUTOR,
                           store_url=mask_urls_in(store_url), index_url=mask_url(index_url))
        return OnDemandRun(run_id, job.name, day, index,
                           RunState(report, settings.runs_dir / run_id))

    def _config(self, job: JobSpec, period: Period, run_id: str) -> WorkerConfig:
        """The worker config of the job's line for ``period`` (built once: it loads the
        template set to learn its version)."""
        key = (job.name, period.code, run_id, job.text or "")
        with self._lock:
            found = self._configs.get(key)
        if found is None:
            found = self._new_config(job, period, run_id)
            with self._lock:
                while len(self._configs) >= MAX_LINES:
                    self._configs.pop(next(iter(self._configs)))
                self._configs[key] = found
        return found

    def _new_config(self, job: JobSpec, period: Period, run_id: str) -> WorkerConfig:
        settings = self.settings
        store_url, index_url = archive_urls(job, settings)
        email_url = sms_url = peppol_url = None
        if "email" in job.channels and job.email is not None:
            email_url = resolve_url(settings.email_url or job.email.transport, settings)
        if "sms" in job.channels and job.sms is not None:
            sms_url = resolve_url(settings.sms_url or job.sms.transport, settings)
        if "peppol" in job.channels and job.peppol is not None:
            peppol_url = settings.peppol_url or job.peppol.transport
        templates = _templates(job, settings)
        return WorkerConfig(
            job_path=str(job.path), settings=settings, run_id=run_id, period=period.code,
            issued=default_issued(period, self.today()), store_url=store_url,
            index_url=index_url, template_version=templates.version, email_url=email_url,
            sms_url=sms_url, peppol_url=peppol_url, job_text=job.text)

    def _heartbeats(self) -> None:
        """Write each run's report within a second of a change, and every HEARTBEAT_SECONDS
        (the heartbeat that keeps the run alive in the index)."""
        while not self._stop.wait(REPORT_SECONDS):
            with self._lock:
                runs = list(self._runs.values())
            for run in runs:
                _quietly(functools.partial(run.beat_if_due, HEARTBEAT_SECONDS))


def _counted_once(outcome: Outcome) -> Outcome:
    """A retried request this run answered already counts as skipped the second time."""
    if outcome.status is not Status.ARCHIVED or outcome.rendered:
        return outcome
    channels = tuple(dataclasses.replace(c, status=ChannelStatus.SKIPPED)
                     if c.status is ChannelStatus.DONE and not c.rendered else c
                     for c in outcome.channels)
    return dataclasses.replace(outcome, status=Status.SKIPPED, channels=channels)


def _templates(job: JobSpec, settings: Settings) -> DocumentTemplates:
    templates = DocumentTemplates.load(settings.templates_dir, settings.assets_dir,
                                       job.template_set, job.brand, job.locales,
                                       job.default_locale)
    templates.template_set.check_channels(list(job.channels))
    templates.template_set.check_variants(segment_variants(job))
    return templates


def _still_running(run: OnDemandRun) -> bool:
    """False when a newer run took the job and day over (ours was declared abandoned)."""
    try:
        found = run.index.runs.get(run.run_id)
    except FactoryError:
        return True
    run.checked = time.monotonic()
    return found is not None and found.status == "running"


def _quietly(function: Callable[[], Any]) -> None:
    with contextlib.suppress(FactoryError, OSError):
        function()
