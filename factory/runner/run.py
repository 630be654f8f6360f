"""One run of a job: stream, validate, dispatch to workers, account for every record.

Takes a `JobSpec`, `Settings`, `RunOptions`, an `Executor` and a `Progress`; gives a
`RunReport` and writes, under ``<var>/runs/<run id>/``, ``report.json``, ``rejects.jsonl`` and
``failures.jsonl``. The run is registered in the index (status, heartbeat, final report) so
``docfactory status`` can follow it from anywhere. A job with ``[print] enabled`` then has its
print files built from the archived documents (`print_step`), unless records failed.

Every record read ends in exactly one count: archived, rejected, failed, skipped (archived by an
earlier run), or, when a run is interrupted or a dry run, pending. ``report.balanced`` proves it.
The counting and the per-run files are `factory.runner.accounting.RunState`. A stop condition
(``exc.stops_run``: no space left) ends the run as interrupted with ``report.stop_reason``; a run
that stops still writes its report and settles its index row, or says why it could not.

Per record, with several channels: *archived* means every channel routing gave it is done now
or was done before (the PDF archived, the print hand-over queued, the email or SMS sent and its
message archived) and at least one of them was done by this run; *skipped* means all of them
were done before; *failed* means a channel it had to reach failed (permanently, or retryably
after every attempt), or routing found no channel able to take it. A channel that routing left
out (no consent, invalid address) is *suppressed*: not a failure when another channel took the
message. Per channel (``report.channels``): rendered, sent (email, sms), archived (pdf), queued
(print), skipped, failed_retryable, failed_permanent, suppressed; suppressed channels are
listed with their reason in ``suppressions.jsonl``.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from factory.archive import open_index, open_store
from factory.archive.index import SqlIndex, run_owner
from factory.config import Settings, archive_urls_for, resolve_url
from factory.errors import ConfigError, FactoryError, SourceError
from factory.executors.base import Executor
from factory.jobs import JobSpec, RecordSchema
from factory.jobs.seal import seal_for
from factory.jobs.segments import segment_variants
from factory.models import Period, Record, Reject, RunReport
from factory.observe.metrics import observe_run
from factory.pipeline import WorkerConfig
from factory.pipeline.channels import default_transports
from factory.printing.marks import check_clear
from factory.runner.accounting import RunState, count_in_flight
from factory.runner.files import write_json_atomic
from factory.runner.hooks import HEARTBEAT_SECONDS, Hooks, RunContext, default_hooks
from factory.runner.plan import dry_run, plan_records
from factory.runner.progress import NoProgress, Progress
from factory.runner.segments import SegmentCounter
from factory.sources import SeenKeys, Source, open_source, safe_url
from factory.templates import DocumentTemplates
from factory.urls import mask_url, mask_urls_in


@dataclass(frozen=True)
class RunOptions:
    period: str
    limit: int | None = None
    force: bool = False
    dry_run: bool = False
    issued: date | None = None
    chunk_size: int = 4
    run_id: str | None = None
    resend_unknown: bool = False
    #: Why archived records are rendered again (required with ``force``; kept on every
    #: revision superseded and in the audit log), and who asked (``cli:<user>``, ``key:<id>``).
    force_reason: str = ""
    actor: str = "system"
    actor_role: str = "system"


@dataclass
class Prepared:
    """Everything checked and opened before the first record is read."""

    job: JobSpec
    settings: Settings
    period: Period
    templates: DocumentTemplates
    schema: RecordSchema
    source: Source
    store_url: str
    index_url: str
    issued: date
    #: {channel: resolved transport URL} of the job's channels that have one.
    transports: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @property
    def email_url(self) -> str | None:  # the older names, for callers that still use them
        return self.transports.get("email")

    @property
    def sms_url(self) -> str | None:
        return self.transports.get("sms")

    @property
    def peppol_url(self) -> str | None:
        return self.transports.get("peppol")


def new_run_id(moment: datetime | None = None) -> str:
    moment = moment or datetime.now(UTC)
    return f"{moment:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def default_issued(period: Period, today: date) -> date:
    """A document is issued the day after its period closes, or today if still open."""
    after = date.fromordinal(period.end.toordinal() + 1)
    return after if after <= today else today


def check_force(job: JobSpec, options: RunOptions) -> None:
    """``--force`` needs a reason, and never applies to numbered documents (invoices)."""
    if not options.force or options.dry_run:
        return
    if job.invoice is not None:
        raise ConfigError(f"job {job.name}: its documents carry issued invoice numbers, which"
                          " are never rendered again (--force refused); to correct an issued"
                          " invoice, issue a credit note")
    if not options.force_reason.strip():
        raise ConfigError("--force renders archived documents again as new revisions: say why"
                          " with --reason TEXT (kept with every superseded revision and in the"
                          " audit log)")


def prepare(job: JobSpec, settings: Settings, options: RunOptions) -> Prepared:
    """Check the job, templates, brand and source columns; resolve archive and index URLs."""
    check_force(job, options)
    try:
        period = Period.parse(options.period)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    templates = DocumentTemplates.load(settings.templates_dir, settings.assets_dir,
                                       job.template_set, job.brand, job.locales,
                                       job.default_locale)
    templates.template_set.check_channels(list(job.channels))
    templates.template_set.check_variants(segment_variants(job))
    schema = RecordSchema(job)
    if job.print_.enabled:
        window = templates.brand.address_window
        check_clear(job.print_.marks, job.print_.omr, None if window is None else
                    (window.left, window.top, window.width, window.height))
    check_seal(job, settings)
    source = open_source(job, settings)
    check_columns(source, job)
    store_url, index_url = archive_urls(job, settings)
    issued = options.issued or default_issued(period, datetime.now(UTC).date())
    transports = {name: resolve_url(url, settings) or url for name, url in
                  default_transports(job, settings.transport_url).items()}
    return Prepared(job, settings, period, templates, schema, source, store_url, index_url,
                    issued, transports)


def check_seal(job: JobSpec, settings: Settings) -> None:
    """A job that seals has a key that opens and a certificate valid now, before any record."""
    spec = seal_for(job, settings)
    if spec is None:
        return
    from factory.render.seal import Sealer  # imports pyHanko

    problems, _notes = Sealer(spec, settings.seal_secrets, settings.root).check()
    if problems:
        raise ConfigError(f"{job.label}: cannot seal its documents", problems)


def archive_urls(job: JobSpec | None, settings: Settings) -> tuple[str, str]:
    """(store URL, index URL): options/environment, then the job's [archive], then defaults."""
    return archive_urls_for(job.archive.store if job else None,
                            job.archive.index if job else None, settings)


def check_columns(source: Source, job: JobSpec) -> None:
    """Refuse a source whose header lacks a required schema field: every record would fail."""
    columns = source.columns()
    if columns is None:
        return
    required = [name for name, spec in job.record_schema.fields.items() if spec.required]
    missing = [name for name in required if name not in columns]
    if missing:
        raise SourceError(
            f"{source.name}: missing column(s) {', '.join(missing)} required by"
            f" [schema.fields] of {job.label} (the header has: {', '.join(columns)})")


def run_job(job: JobSpec, settings: Settings, options: RunOptions, executor: Executor,
            progress: Progress | None = None, prepared: Prepared | None = None,
            hooks: Hooks | None = None) -> RunReport:
    """Run ``job`` for ``options.period``; always returns a report, even when interrupted.
    ``prepared``: what `prepare` gave for the same job, settings and options, if at hand;
    ``hooks``: the steps around the records (`factory.runner.hooks`; default: every run's)."""
    progress = progress or NoProgress()
    prepared = prepared or prepare(job, settings, options)
    hooks = hooks or default_hooks()
    index = open_index(prepared.index_url)
    store = open_store(prepared.store_url)
    run_id = options.run_id or new_run_id()
    report = RunReport(
        run_id=run_id, job=job.name, period=prepared.period.code, dry_run=options.dry_run,
        started_at=datetime.now(UTC), template_version=prepared.templates.version,
        workers=executor.workers, executor=executor.name,
        store_url=mask_urls_in(store.url), index_url=mask_url(index.safe_url),
    )
    progress = observe_run(progress, report, job.document_type)  # ops: metrics
    state = RunState(report, settings.runs_dir / run_id)
    segments = SegmentCounter(job, state)  # where / [[segments]]: counted, never dropped
    config = WorkerConfig(
        job_path=str(job.path), settings=settings, run_id=run_id, period=prepared.period.code,
        issued=prepared.issued, store_url=prepared.store_url, index_url=prepared.index_url,
        template_version=prepared.templates.version, force=options.force,
        transports=dict(prepared.transports),
        resend_unknown=options.resend_unknown, force_reason=options.force_reason.strip(),
        actor=options.actor, actor_role=options.actor_role, job_text=job.text)
    run = RunContext(job, settings, options, prepared, report, state, index, store, executor,
                     config)
    try:
        hooks.emit_before("run", run)  # may refuse the run (an unapproved template version)
    except BaseException:
        index.close()
        raise
    report.warnings.extend(getattr(store, "notes", ()))  # e.g. S3 lock=auto without Object Lock
    if not options.dry_run:
        index.runs.start_run(run_id, job.name, prepared.period.code, executor=executor.name,
                             workers=executor.workers,
                             template_version=prepared.templates.version, dry_run=False,
                             owner=run_owner(), actor=options.actor,
                             reason=options.force_reason.strip() or None)
    hooks.emit_after("start", run)
    try:
        if not options.dry_run:
            executor.start(config)
        total = prepared.source.count()
        if total is not None and options.limit is not None:
            total = min(total, options.limit)
        progress.start(total, f"{job.name} {prepared.period.code}")
        with SeenKeys(settings.var_dir / "tmp") as seen:
            chunks = _chunks(prepared, state, seen, options, segments)
            if options.dry_run:
                dry_run(prepared.job, prepared.period.code, state, index, chunks, progress)
            else:
                _execute(run, hooks, chunks, progress)
        report.unread = getattr(prepared.source, "unread", None)
        hooks.emit_after("records", run)
    except KeyboardInterrupt:
        report.interrupted = True
        executor.close(cancel=True)
    except FactoryError as exc:
        if exc.stops_run:  # a full disk: every next record would fail the same way
            report.interrupted = True
            report.stop_reason = str(exc)
        else:
            report.error = str(exc)
        executor.close(cancel=True)
    except BaseException as exc:
        report.error = f"crashed: {type(exc).__name__}: {exc}"
        executor.close(cancel=True)
        raise
    finally:
        report.finished_at = datetime.now(UTC)
        if (report.interrupted or report.error) and not options.dry_run:
            count_in_flight(job, run_id, state, index)
        segments.settle()
        _settle_and_record(state, report, progress, index, options.dry_run)
        hooks.emit_settled(run)
        index.close()
    return report


def _settle_and_record(state: RunState, report: RunReport, progress: Progress, index: SqlIndex,
                       dry_run: bool) -> None:
    """Write the report file and the index row; on a full disk (or a failing index) say so in
    the report, which the caller still prints, instead of losing it to an exception."""
    try:
        state.settle()
    except OSError as exc:
        report.warnings.append(f"the run's rejects/failures files are incomplete: {exc}")
    progress.finish(report.counts)
    try:
        write_json_atomic(state.run_dir / "report.json", report.as_dict())
    except OSError as exc:
        report.warnings.append(f"{state.run_dir / 'report.json'} not written: {exc.strerror}")
    if not dry_run:
        try:
            index.runs.finish_run(report.run_id, report.status, report.as_dict())
        except FactoryError as exc:
            report.warnings.append(f"the run's row in the index is not updated ({exc}); it"
                                   " shows as running until its heartbeat goes stale")


def _chunks(prepared: Prepared, state: RunState, seen: SeenKeys, options: RunOptions,
            segments: SegmentCounter | None = None) -> Iterator[list[Record]]:
    batch: list[Record] = []
    for read in plan_records(prepared.source, prepared.schema, seen, options.limit):
        state.counts.input += 1
        item = segments.take(read) if segments is not None else read
        if item is None:  # filtered out: counted and listed in filtered.jsonl
            continue
        if isinstance(item, Reject):
            state.rejected(item)
            continue
        state.planned_record(item, prepared.job.document_type)
        batch.append(item)
        if len(batch) >= options.chunk_size:
            yield batch
            batch = []
    if batch:
        yield batch


def _execute(run: RunContext, hooks: Hooks, chunks: Iterator[list[Record]],
             progress: Progress) -> None:
    for outcomes in run.executor.map(run.config, chunks):
        for outcome in outcomes:
            run.state.outcome(outcome)
        progress.update(run.state.counts)
        hooks.emit_after("chunk", run, outcomes)


__all__ = ["HEARTBEAT_SECONDS", "Executor", "Prepared", "RunOptions", "archive_urls",
           "default_issued", "new_run_id", "prepare", "run_job", "safe_url"]
