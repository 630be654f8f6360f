"""The commands: run, validate, preview, sample-data, status, runs.

Takes parsed options; calls the runner, the pipeline or the archive and prints the result.
"""

from __future__ import annotations

import json
import os
import sys
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import click

from factory.cli.app import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_PROBLEMS,
    EXIT_USAGE,
    App,
    cli,
    handle_errors,
)
from factory.cli.output import esc
from factory.errors import ConfigError
from factory.executors import EXECUTORS

if TYPE_CHECKING:
    from factory.jobs import RecordSchema
    from factory.models import Record, RunReport

# Heavy modules (the job schema, the runner, SQLAlchemy, WeasyPrint) are imported inside the
# commands that use them, so that `docfactory --help` and `status` start fast
# (tests/cli/test_startup.py checks it).

JOB = click.argument("job", type=click.Path(dir_okay=False, path_type=Path))
PERIOD = click.option("--period", default=None, metavar="YYYY-MM",
                      help="Period to produce; default: the current month.")


def _period(value: str | None) -> str:
    return value or date.today().strftime("%Y-%m")


@cli.command()
@JOB
@PERIOD
@click.option("--workers", type=click.IntRange(1, 256), default=None,
              help="Worker processes (default: one per core).")
@click.option("--limit", type=click.IntRange(1), default=None,
              help="Stop after this many input records.")
@click.option("--dry-run", is_flag=True,
              help="Stream, validate and plan the whole input; render and archive nothing.")
@click.option("--force", is_flag=True,
              help="Render again records that are already archived: a new revision beside"
                   " the old one, which stays archived (needs --reason; never for invoices).")
@click.option("--reason", "force_reason", default="", metavar="TEXT",
              help="Why --force renders again: kept with every superseded revision and in"
                   " the audit log.")
@click.option("--record", "record_key", default=None, metavar="KEY",
              help="Only the record with this key (reissue one customer's document; with"
                   " --force --reason: a new revision).")
@click.option("--executor", type=click.Choice(EXECUTORS), default=EXECUTORS[0],
              show_default=True,
              help="Where records are rendered: local processes, this process, or Celery"
                   " workers ($FACTORY_BROKER_URL).")
@click.option("--chunk-size", type=click.IntRange(1, 1000), default=None,
              help="Records sent to a worker at a time (default 4; env FACTORY_CHUNK_SIZE);"
                   " celery joins them into tasks of ~FACTORY_TASK_SECONDS (3) of work.")
@click.option("--archive", "archive_url", default=None, metavar="URL",
              help="Archive store URL (file:///path, s3://bucket/prefix?...)."
                   " Default: var/archive.")
@click.option("--index", "index_url", default=None, metavar="URL",
              help="Index database URL (sqlite:///path, postgresql://...)."
                   " Default: var/index.db.")
@click.option("--issued", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="Issue date printed on documents (default: the day after the period,"
                   " or today while it is open).")
@click.option("--email-transport", "email_url", default=None, metavar="URL",
              help="Email transport (smtp://, smtps://, outbox:DIR); env FACTORY_EMAIL_URL.")
@click.option("--sms-transport", "sms_url", default=None, metavar="URL",
              help="SMS transport (https:// gateway, outbox:DIR); env FACTORY_SMS_URL.")
@click.option("--resend-unknown", is_flag=True,
              help="Send again the messages a crash left in doubt (SMTP only holds them).")
@click.pass_obj
@handle_errors
def run(app: App, job: Path, period: str | None, workers: int | None, limit: int | None,
        dry_run: bool, force: bool, force_reason: str, executor: str, chunk_size: int | None,
        archive_url: str | None, index_url: str | None, issued: object,
        email_url: str | None, sms_url: str | None, resend_unknown: bool,
        record_key: str | None) -> None:
    """Run JOB for a period: render, archive, deliver and index every record."""
    from factory.cli.archive import shell_actor
    from factory.cli.output import print_summary
    from factory.cli.progress import make_progress
    from factory.executors import RemoteWorkers, make_executor
    from factory.jobs import load_job
    from factory.ops.notify import notify_run
    from factory.runner import RunOptions, run_job
    from factory.runner.run import check_force, prepare

    if force_reason and not force:
        raise ConfigError("--reason goes with --force")
    settings = app.settings(archive_url=archive_url, index_url=index_url, workers=workers,
                            email_url=email_url, sms_url=sms_url, chunk_size=chunk_size)
    spec = load_job(job)
    actor = shell_actor()
    check_force(spec, RunOptions(period="", force=force, dry_run=dry_run,
                                 force_reason=force_reason))
    cluster = None
    if executor == "celery":
        from factory.cli.cluster import cluster_options

        cluster = cluster_options(os.environ)
    runner = make_executor(executor, settings.workers, cluster)
    if isinstance(runner, RemoteWorkers) and not dry_run:
        runner.connect()  # no worker on the queue: nothing runs (exit 2)
    options = RunOptions(
        period=_period(period), limit=limit, force=force, dry_run=dry_run,
        issued=issued.date() if issued else None,  # type: ignore[attr-defined]
        chunk_size=settings.chunk_size, resend_unknown=resend_unknown,
        force_reason=force_reason, actor=actor.id, actor_role=actor.role)
    prepared = None
    if record_key is not None:
        from factory.ops.reissue import OneRecord

        prepared = prepare(spec, settings, options)
        prepared.source = OneRecord(prepared.source, spec.key_field, record_key)
    report = run_job(spec, settings, options, runner, make_progress(app.err, app.quiet),
                     prepared)
    if record_key is not None and report.counts.input == 0 and not report.error:
        raise ConfigError(f"no record with {spec.key_field} {record_key!r} in"
                          f" {prepared.source.name if prepared else spec.name}")
    notify_run(spec, report.as_dict(), os.environ)  # ops: notifications (a hook later)
    print_summary(app.out, report, str(settings.runs_dir / report.run_id))
    sys.exit(run_exit_code(app, report))


def run_exit_code(app: App, report: RunReport) -> int:
    """The exit code of a finished `run`, as README's table says; prints why when not 0/1."""
    if report.interrupted:
        if report.stop_reason:
            app.err.print(f"[red]stopped:[/] {esc(report.stop_reason)}", soft_wrap=True)
            app.err.print("[yellow]interrupted:[/] free space, then run the same command"
                          " again to resume; archived records are skipped")
        else:
            app.err.print("[yellow]interrupted:[/] run the same command again to resume;"
                          " archived records are skipped")
        return EXIT_INTERRUPTED
    if report.error and report.counts.input == 0 and report.counts.archived == 0:
        return EXIT_USAGE  # stopped before its first record (a malformed line-item file)
    if report.error or not report.balanced:
        return EXIT_FAILED
    return EXIT_PROBLEMS if report.counts.rejected or report.counts.failed else EXIT_OK


@cli.command()
@JOB
@PERIOD
@click.option("--sample", type=click.IntRange(0), default=20, show_default=True,
              help="How many input records to validate and render as a check.")
@click.pass_obj
@handle_errors
def validate(app: App, job: Path, period: str | None, sample: int) -> None:
    """Check JOB, its template set, brand, translations and data before running it."""
    from factory.cli.output import print_problems
    from factory.runner.preflight import check_job  # renders: imports WeasyPrint

    result = check_job(job, app.settings(), _period(period), sample)
    for note in result.notes:
        app.out.print(f"[yellow]note:[/] {esc(note)}", soft_wrap=True)
    if not result.ok:
        print_problems(app.err, f"{job}: {len(result.problems)} problem(s)", result.problems)
        sys.exit(EXIT_USAGE)
    assert result.job is not None
    app.out.print(
        f"[green]✓[/] {job}: job, template set {result.job.template_set!r}"
        f" (version {result.template_version[:12]}), brand {result.job.brand!r},"
        f" translations for {', '.join(result.job.locales)}; {result.records_checked}"
        " sample record(s) validated and rendered", soft_wrap=True)


@cli.command()
@JOB
@click.option("--record", "key", required=True, help="Record key to render.")
@PERIOD
@click.option("--format", "fmt", type=click.Choice(["pdf", "html"]), default="pdf",
              show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Where to write it (default: var/preview/<key>.<format>).")
@click.pass_obj
@handle_errors
def preview(app: App, job: Path, key: str, period: str | None, fmt: str,
            output: Path | None) -> None:
    """Render one record of JOB for proofing; nothing is archived."""
    from factory.archive import document_id
    from factory.jobs import RecordSchema, load_job
    from factory.pipeline.document import DocumentRenderer  # imports WeasyPrint
    from factory.runner import RunOptions
    from factory.runner.run import prepare

    settings = app.settings()
    spec = load_job(job)
    prepared = prepare(spec, settings, RunOptions(period=_period(period)))
    record = _find_record(prepared.source, RecordSchema(spec), key, settings)
    renderer = DocumentRenderer(spec, settings, prepared.period, prepared.issued)
    blocks = renderer.templates.template_set.manifest.blocks
    if blocks:  # an interactive letter set: its blocks' sample texts (docs/letters.md)
        from dataclasses import replace

        from factory.templates.blocks import with_sample_letter

        record = replace(record, data=with_sample_letter(record.data, blocks))
    doc_id = document_id(spec.name, prepared.period.code, record.key, spec.document_type,
                         "pdf", 0)
    output = output or settings.var_dir / "preview" / f"{record.key}.{fmt}"
    output.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "html":
        output.write_text(renderer.render_html(record, doc_id), encoding="utf-8")
        app.out.print(f"[green]✓[/] {esc(output)}")
    else:
        _html, artifact = renderer.render(record, doc_id)
        output.write_bytes(artifact.data)
        app.out.print(f"[green]✓[/] {esc(output)} ({artifact.page_count} page(s),"
                      f" {artifact.byte_size:,} bytes, locale {esc(record.locale)})")


def _find_record(source: object, schema: RecordSchema, key: str, settings: object) -> Record:
    from factory.models import Reject
    from factory.runner.plan import plan_records
    from factory.sources import SeenKeys

    with SeenKeys(settings.var_dir / "tmp") as seen:  # type: ignore[attr-defined]
        for item in plan_records(source, schema, seen):  # type: ignore[arg-type]
            if isinstance(item, Reject):
                if item.key == key:
                    raise ConfigError(f"record {key!r} is rejected: {item.describe()}")
                continue
            if item.key == key:
                return item
    raise ConfigError(f"record {key!r} not found in {source.name}")  # type: ignore[attr-defined]


@cli.command("sample-data")
@click.option("--customers", type=click.IntRange(1), default=200, show_default=True)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              default=Path("var/sample"), show_default=True)
@click.option("--seed", type=int, default=2026, show_default=True)
@PERIOD
@click.option("--format", "fmt", type=click.Choice(["csv", "jsonl", "sqlite"]), default="csv",
              show_default=True)
@click.pass_obj
@handle_errors
def sample_data(app: App, customers: int, out: Path, seed: int, period: str | None,
                fmt: str) -> None:
    """Generate realistic customers (5-80 transactions each, five locales)."""
    from factory.samples.customers import generate

    summary = generate(customers, out, seed=seed, period=_period(period), fmt=fmt)
    locales = ", ".join(f"{k} {v}" for k, v in sorted(summary.locales.items()))
    app.out.print(f"[green]✓[/] {summary.customers} customers, {summary.transactions}"
                  f" transactions ({locales})")
    for path in summary.files:
        app.out.print(f"  {esc(path)}")


@cli.command()
@click.argument("run_id")
@click.option("--index", "index_url", default=None, metavar="URL")
@click.option("--json", "as_json", is_flag=True, help="Print the stored report as JSON.")
@click.pass_obj
@handle_errors
def status(app: App, run_id: str, index_url: str | None, as_json: bool) -> None:
    """Show a run's status and counts, from the index (works from any machine)."""
    index = app.open_index(index_url, existing=True)
    found = index.runs.get(run_id)
    if found is None:
        raise ConfigError(f"no run {run_id!r} in {index.safe_url}")
    report = found.report or {}
    live = None
    if found.executor == "celery" and found.status == "running":
        from factory.cli.cluster import live_counts, print_live

        live = live_counts(run_id, os.environ)
    if as_json:
        app.out.print_json(json.dumps({**found.as_dict(), "report": report, "live": live},
                                  default=str))
        return
    counts = report.get("counts", {})
    app.out.print(f"run {esc(run_id)}: {esc(found.job)} {esc(found.period)}"
                  f" [bold]{found.status}[/]"
                  f" (started {found.started_at:%Y-%m-%d %H:%M:%S} UTC,"
                  f" last heartbeat {found.heartbeat_at:%H:%M:%S})")
    if counts:
        app.out.print("  " + ", ".join(f"{k} {v}" for k, v in counts.items()))
        line = report.get("reconciliation", {}).get("line")
        if line:
            app.out.print(f"  {esc(line)}")
    if found.executor == "celery" and found.status == "running":
        print_live(app, run_id, live)


@cli.command()
@click.option("--job", default=None, help="Only runs of this job name.")
@click.option("--period", default=None, metavar="P",
              help="Only runs of this period, with the period's totals over them.")
@click.option("--limit", type=click.IntRange(1), default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="As JSON (runs, and period totals).")
@click.pass_obj
@handle_errors
def runs(app: App, job: str | None, period: str | None, limit: int, as_json: bool) -> None:
    """List recent runs with durations and rates; --period: that period's totals."""
    from rich.table import Table

    from factory.ops.runs import hms, period_totals, run_row

    index = app.open_index(existing=True)
    try:
        # as dicts: what `factory.ops.runs` reads and the JSON output prints
        found = [row.as_dict()
                 for row in index.runs.recent(job, limit if period is None else 10_000)]
    finally:
        index.close()
    if period is not None:
        found = [run for run in found if run["period"] == period][:limit]
    rows = [run_row(run) for run in found]
    totals = period_totals(found) if period is not None else None
    if as_json:
        app.out.print_json(json.dumps({"runs": rows, "periods": totals}, default=str))
        return
    table = Table("run", "job", "period", "status", "started (UTC)", "duration", "docs/s",
                  "archived", "rejected", "failed")
    for run, row in zip(found, rows, strict=True):
        counts = row["counts"]
        rate = row["docs_per_second"]
        table.add_row(esc(row["run_id"]), esc(row["job"]), esc(row["period"]), row["status"],
                      f"{run['started_at']:%Y-%m-%d %H:%M}", hms(row["duration_seconds"]),
                      "" if rate is None else f"{rate:.1f}", str(counts.get("archived", "")),
                      str(counts.get("rejected", "")), str(counts.get("failed", "")))
    app.out.print(table)
    for total in totals or ():
        app.out.print(
            f"{esc(total['job'])} {esc(total['period'])} over {len(total['runs'])} run(s):"
            f" input {total['input']}, archived {total['archived']} ({total['pages']} pages),"
            f" rejected {total['rejected']}, failed {total['failed']}, not processed"
            f" {total['not_processed']}, {hms(total['duration_seconds'])}", soft_wrap=True)


@cli.group("index")
def index_group() -> None:
    """The index database: its schema."""


@index_group.command("upgrade")
@click.option("--index", "index_url", default=None, metavar="URL",
              help="Index database URL (default: FACTORY_INDEX_URL, then var/index.db).")
@click.pass_obj
@handle_errors
def index_upgrade(app: App, index_url: str | None) -> None:
    """Bring the index schema to the version this code needs (Alembic migrations).

    Runs also happen to do it; workers never do, and refuse an index that is behind."""
    index = app.open_index(index_url)
    app.out.print(f"[green]✓[/] {esc(index.safe_url)}: schema at {index.schema_revision()}")
    index.close()
