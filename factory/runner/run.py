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
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from factory.archive import open_index, open_store
from factory.archive.index import SqlIndex, run_owner
from factory.archive.store import Store, TempObjects
from factory.archive.versions import keep_version
from factory.config import Settings
from factory.errors import ConfigError, FactoryError, SourceError
from factory.executors.base import Executor
from factory.jobs import JobSpec, RecordSchema
from factory.jobs.seal import seal_for
from factory.models import (
    ChannelOutcome,
    ChannelStatus,
    Outcome,
    Period,
    Record,
    Reject,
    RunReport,
    Status,
)
from factory.pipeline import CHANNEL, WorkerConfig
from factory.printing.marks import check_clear
from factory.routing import route_record
from factory.runner.accounting import RunState
from factory.runner.approval import approval_problem
from factory.runner.files import write_json_atomic
from factory.runner.plan import plan_records
from factory.runner.progress import NoProgress, Progress
from factory.runner.segments import SegmentCounter
from factory.sources import SeenKeys, Source, open_source, safe_url, sweep_scratch
from factory.templates import DocumentTemplates
from factory.urls import mask_url, mask_urls_in

HEARTBEAT_SECONDS = 10.0


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
    email_url: str | None = None
    sms_url: str | None = None
    peppol_url: str | None = None
    warnings: list[str] = field(default_factory=list)


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
    email_url = sms_url = None
    if "email" in job.channels and job.email is not None:
        email_url = _resolve_url(settings.email_url or job.email.transport, settings)
    if "sms" in job.channels and job.sms is not None:
        sms_url = _resolve_url(settings.sms_url or job.sms.transport, settings)
    peppol_url = settings.peppol_url or job.peppol.transport \
        if "peppol" in job.channels and job.peppol is not None else None
    return Prepared(job, settings, period, templates, schema, source, store_url, index_url,
                    issued, email_url, sms_url, peppol_url)


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
    store = job.archive.store if job else None
    index = job.archive.index if job else None
    return (settings.archive_url or _resolve_url(store, settings) or settings.default_archive_url,
            settings.index_url or _resolve_url(index, settings) or settings.default_index_url)


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


def _resolve_url(url: str | None, settings: Settings) -> str | None:
    """Job-file URLs may use paths relative to the project root: ``file:var/archive``."""
    if not url:
        return None
    if url.startswith("file:") and not url.startswith("file://"):
        return settings.resolve(url[len("file:"):]).as_uri()
    if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
        return "sqlite:///" + str(settings.resolve(url[len("sqlite:///"):]))
    if url.startswith("outbox:") and not url.startswith("outbox:///"):
        relative = url[len("outbox:"):].removeprefix("//")
        return "outbox://" + str(settings.resolve(relative))
    return url


def run_job(job: JobSpec, settings: Settings, options: RunOptions, executor: Executor,
            progress: Progress | None = None, prepared: Prepared | None = None) -> RunReport:
    """Run ``job`` for ``options.period``; always returns a report, even when interrupted.
    ``prepared``: what `prepare` gave for the same job, settings and options, if at hand."""
    progress = progress or NoProgress()
    prepared = prepared or prepare(job, settings, options)
    index = open_index(prepared.index_url)
    unapproved = approval_problem(job, prepared.templates.version, index)
    if unapproved and not options.dry_run:
        index.close()
        raise ConfigError(unapproved)
    store = open_store(prepared.store_url)
    run_id = options.run_id or new_run_id()
    report = RunReport(
        run_id=run_id, job=job.name, period=prepared.period.code, dry_run=options.dry_run,
        started_at=datetime.now(UTC), template_version=prepared.templates.version,
        workers=executor.workers, executor=executor.name,
        store_url=mask_urls_in(store.url), index_url=mask_url(index.safe_url),
    )
    if unapproved:
        report.warnings.append(unapproved)
    report.warnings.extend(getattr(store, "notes", ()))  # e.g. S3 lock=auto without Object Lock
    state = RunState(report, settings.runs_dir / run_id)
    segments = SegmentCounter(job, state)  # where / [[segments]]: counted, never dropped
    swept = sweep_scratch(settings.var_dir / "tmp")  # left by runs killed with -9
    if swept:
        report.warnings.append(f"removed {len(swept)} scratch folder(s) of runs that died in"
                               f" {settings.var_dir / 'tmp'}")
    config = WorkerConfig(
        job_path=str(job.path), settings=settings, run_id=run_id, period=prepared.period.code,
        issued=prepared.issued, store_url=prepared.store_url, index_url=prepared.index_url,
        template_version=prepared.templates.version, force=options.force,
        email_url=prepared.email_url, sms_url=prepared.sms_url,
        resend_unknown=options.resend_unknown, force_reason=options.force_reason.strip(),
        actor=options.actor, actor_role=options.actor_role, job_text=job.text,
        peppol_url=prepared.peppol_url)
    if not options.dry_run:
        index.start_run(run_id, job.name, prepared.period.code, executor=executor.name,
                        workers=executor.workers, template_version=prepared.templates.version,
                        dry_run=False, owner=run_owner(), actor=options.actor,
                        reason=options.force_reason.strip() or None)
        _keep_template_version(prepared, store, index)
        _remove_dead_attempts(job, prepared.period.code, store, report)
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
                _dry_run(prepared, state, index, chunks, progress)
            else:
                _execute(executor, config, chunks, state, index, progress)
        report.unread = getattr(prepared.source, "unread", None)
        _orphan_warning(prepared.source, report)
        if not options.dry_run and job.print_.enabled:
            _print_files(prepared, report, store, index)
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
            _count_in_flight(job, run_id, state, index)
        segments.settle()
        _settle_and_record(state, report, progress, index, options.dry_run)
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
            index.finish_run(report.run_id, report.status, report.as_dict())
        except FactoryError as exc:
            report.warnings.append(f"the run's row in the index is not updated ({exc}); it"
                                   " shows as running until its heartbeat goes stale")
    index.close()


def _count_in_flight(job: JobSpec, run_id: str, state: RunState, index: SqlIndex) -> None:
    """A stopped run: records its workers archived whose outcome never came back (the chunk
    was in flight) are counted from the index, when the PDF is all the job sends; otherwise
    they stay 'not processed' and the rerun settles them."""
    if list(job.channels) != [CHANNEL]:
        return
    try:
        documents, pages, size = index.run_totals(run_id, CHANNEL)
    except FactoryError:
        return
    counts = state.counts
    unsettled = state.planned - (counts.archived + counts.failed + counts.skipped)
    missing = min(documents - counts.archived, unsettled)
    if missing > 0 and documents - counts.archived == missing:
        counts.archived, counts.pages, counts.bytes = documents, pages, size
        counts.rendered += missing
        state.report.warnings.append(
            f"{missing} record(s) archived by workers while the run stopped are counted from"
            " the index")


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


def _execute(executor: Executor, config: WorkerConfig, chunks: Iterator[list[Record]],
             state: RunState, index: SqlIndex, progress: Progress) -> None:
    beat = time.monotonic()
    for outcomes in executor.map(config, chunks):
        for outcome in outcomes:
            state.outcome(outcome)
        progress.update(state.counts)
        if time.monotonic() - beat > HEARTBEAT_SECONDS:
            beat = time.monotonic()
            index.heartbeat(config.run_id, state.report.as_dict())


def _dry_run(prepared: Prepared, state: RunState, index: SqlIndex,
             chunks: Iterator[list[Record]], progress: Progress) -> None:
    """Route every record and count, per channel, what a run would do; send nothing.

    A record counts as skipped when every channel it is routed to is done already; a record
    routing cannot place counts as failed (it would fail the same way in the run)."""
    job = prepared.job
    period = prepared.period.code
    for batch in chunks:
        keys = [r.key for r in batch]
        done: dict[str, set[str]] = {}
        for channel in job.channels:
            if channel == "print":
                done[channel] = index.existing_deliveries(job.name, period, channel,
                                                          job.document_type, keys,
                                                          ("queued", "printed", "sent"))
            else:
                done[channel] = index.existing_keys(job.name, period, channel,
                                                    job.document_type, keys)
        for record in batch:
            route = route_record(job, record)
            if route.failure:  # counted, written and summed as a real run does
                state.report.routing["no channel"] = state.report.routing.get(
                    "no channel", 0) + 1
                state.outcome(Outcome(
                    record.key, record.position, Status.FAILED,
                    reason=f"routing: {route.failure}",
                    channels=tuple(ChannelOutcome(channel, ChannelStatus.SUPPRESSED,
                                                  reason=why)
                                   for channel, why in route.suppressed)))
                continue
            for channel, reason in route.suppressed:
                state.suppressed(record.key, channel, reason, record.position)
            for channel in route.channels:
                state.report.routing[channel] = state.report.routing.get(channel, 0) + 1
            if route.channels and all(record.key in done.get(c, set())
                                      for c in route.channels):
                state.counts.skipped += 1
        progress.update(state.counts)


def _print_files(prepared: Prepared, report: RunReport, store: Store, index: SqlIndex) -> None:
    """Build the run's print files, unless some records failed (they would be missing)."""
    from factory.runner.print_step import build_print

    if report.counts.failed:
        report.warnings.append(
            f"print files not built: {report.counts.failed} record(s) failed; fix them and run"
            " again, or build them anyway with `docfactory print`")
        return
    summary = build_print(prepared.job, prepared.settings, prepared.period.code, store, index,
                          report.run_id)
    report.print_files = summary.as_dict()
    report.warnings.extend(summary.warnings)


def _remove_dead_attempts(job: JobSpec, period: str, store: Store, report: RunReport) -> None:
    """Remove the temporary objects killed attempts left under this job and period: this run
    is the live one now (`start_run`), so no live writer uses them."""
    if isinstance(store, TempObjects):
        removed = store.remove_temp(f"{job.name}/{period}/")
        if removed:
            report.warnings.append(f"removed {removed} temporary object(s) left by killed"
                                   " attempts of earlier runs")


def _keep_template_version(prepared: Prepared, store: Store, index: SqlIndex) -> None:
    """Store the template-set snapshot once per version, so it can be rendered again."""
    keep_version(store, index, prepared.templates.template_set)


def _orphan_warning(source: Source, report: RunReport) -> None:
    orphans = getattr(source, "orphan_items", 0)
    if orphans:
        keys = ", ".join(getattr(source, "orphan_keys", []))
        report.warnings.append(
            f"{orphans} line item(s) in the items file belong to no record read"
            f" (keys such as {keys})")


__all__ = ["Executor", "Prepared", "RunOptions", "archive_urls", "default_issued", "new_run_id",
           "prepare", "run_job", "safe_url"]
