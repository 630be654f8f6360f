"""``docfactory scheduler`` and ``docfactory calendar``: jobs that run by their calendar.

Takes a folder of job files (those with a ``schedule``), the index (where firings are kept)
and options; ``scheduler`` fires each due firing (`factory.ops.scheduler`), starting its run in
a thread with the chosen executor, until Ctrl-C or SIGTERM (``--once``: one look at the
calendar, then wait for the runs it started); ``calendar`` lists the next firings of every
scheduled job and the past ones with their run ids and what became of them.
"""

from __future__ import annotations

import json
import os
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from factory.cli.app import App, cli, handle_errors
from factory.cli.archive import INDEX
from factory.cli.output import esc
from factory.errors import ConfigError

JOBS = click.option("--jobs", "jobs_dir", type=click.Path(file_okay=False, path_type=Path),
                    default=None, help="Folder of job files (default: jobs/).")


def scheduled_jobs(app: App, jobs_dir: Path | None) -> list[Any]:
    from factory.jobs import load_job

    folder = jobs_dir or app.settings().root / "jobs"
    if not folder.is_dir():
        raise ConfigError(f"{folder}: no such folder of job files")
    jobs = [load_job(path) for path in sorted(folder.glob("*.toml"))]
    return [job for job in jobs if job.schedule is not None]


def _moment(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ConfigError(f"{value!r} is not a date and time like 2026-12-01T06:00:00Z"
                          ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class ThreadStarter:
    """Starts each fired run in a thread of this process, with its own executor."""

    def __init__(self, app: App, executor: str, workers: int | None) -> None:
        self.app = app
        self.executor = executor
        self.workers = workers
        self.threads: list[threading.Thread] = []

    def __call__(self, job: Any, period: str, run_id: str) -> None:
        from factory.executors import make_executor
        from factory.runner import RunOptions, prepare, run_job

        settings = self.app.settings()
        options = RunOptions(period=period, run_id=run_id, actor="scheduler",
                             actor_role="system")
        prepared = prepare(job, settings, options)  # a bad job or source: fails the firing

        from factory.ops.notify import notify_run

        def run() -> None:
            runner = make_executor(self.executor, self.workers or settings.workers)
            try:
                report = run_job(job, settings, options, runner, prepared=prepared)
            finally:
                runner.close()
            notify_run(job, report.as_dict(), os.environ)

        thread = threading.Thread(target=run, name=f"run-{run_id}", daemon=False)
        thread.start()
        self.threads.append(thread)

    def wait(self) -> None:
        for thread in self.threads:
            thread.join()


@cli.command()
@JOBS
@click.option("--once", is_flag=True, help="Look at the calendar once, run what is due, wait"
                                           " for those runs and exit.")
@click.option("--catch-up-from", default=None, metavar="WHEN",
              help="For jobs with no firing recorded yet: run the firings since WHEN"
                   " (default: only those from now on).")
@click.option("--executor", type=click.Choice(["pool", "inline"]), default="pool",
              show_default=True, help="Where fired runs render.")
@click.option("--workers", type=click.IntRange(1, 256), default=None,
              help="Worker processes per run (default: one per core).")
@click.option("--metrics-port", type=click.IntRange(0, 65535), default=None, metavar="N",
              help="Serve Prometheus /metrics of the fired runs on port N.")
@INDEX
@click.pass_obj
@handle_errors
def scheduler(app: App, jobs_dir: Path | None, once: bool, catch_up_from: str | None,
              executor: str, workers: int | None, metrics_port: int | None,
              index_url: str | None) -> None:
    """Run the jobs' calendars: start each job's run when its schedule fires."""
    from factory.ops.scheduler import Scheduler

    app.service_logs()
    if metrics_port is not None:
        from factory.cli.serve import metrics_dir
        from factory.observe.metrics import serve_metrics

        metrics_dir(app.settings().var_dir / "metrics" / "scheduler")
        app.err.print(f"metrics on http://0.0.0.0:{serve_metrics(metrics_port)}/metrics")
    jobs = scheduled_jobs(app, jobs_dir)
    index = app.open_index(index_url)
    starter = ThreadStarter(app, executor, workers)
    sched = Scheduler(jobs, index, starter, baseline=_moment(catch_up_from))
    names = ", ".join(job.name for job in jobs) or "none"
    app.err.print(f"scheduler: watching {len(jobs)} job(s) ({esc(names)}); index"
                  f" {esc(index.safe_url)}", soft_wrap=True)
    try:
        if once:
            for firing in sched.tick():
                app.out.print(esc(json.dumps(firing, sort_keys=True)), soft_wrap=True)
        else:
            from factory.ops.notify import StallWatch

            stalls = StallWatch()
            sched.run_forever(on_tick=lambda: stalls.check(jobs, index, time.time(),
                                                           os.environ))
    finally:
        starter.wait()
        index.close()


@cli.command()
@JOBS
@click.option("--count", type=click.IntRange(1, 100), default=3, show_default=True,
              help="Upcoming firings per job.")
@click.option("--past", type=click.IntRange(0, 1000), default=20, show_default=True,
              help="Past firings listed.")
@click.option("--json", "as_json", is_flag=True, help="As JSON.")
@INDEX
@click.pass_obj
@handle_errors
def calendar(app: App, jobs_dir: Path | None, count: int, past: int, as_json: bool,
             index_url: str | None) -> None:
    """List the upcoming firings of scheduled jobs and the past ones with their run ids."""
    from factory.ops.calendar import calendar_of

    jobs = scheduled_jobs(app, jobs_dir)
    index = app.open_index(index_url)
    try:
        shown = calendar_of(jobs, index, datetime.now(UTC), count, past)
    finally:
        index.close()
    if as_json:
        app.out.print_json(json.dumps(shown, default=lambda v: v.isoformat()))
        return
    app.out.print("upcoming:")
    for firing in shown["upcoming"]:
        app.out.print(f"  {firing['at']:%Y-%m-%d %H:%M} UTC  {esc(firing['job'])}  period"
                      f" {firing['period']}")
    app.out.print("past:")
    for row in shown["past"]:
        what = row["run_id"] or row["note"] or ""
        app.out.print(f"  {row['at']:%Y-%m-%d %H:%M} UTC  {esc(row['job'])}  period"
                      f" {row['period']}  {row['status']}  {esc(what)}", soft_wrap=True)
