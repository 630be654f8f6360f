"""``docfactory print``: (re)build the print files of a run from the archive.

Takes a job file and a period; reads the archived documents and their record snapshots from the
index and the store, and archives the print files, cover pages and manifests (see
`factory.runner.print_step`). Prints what it built.
"""

from __future__ import annotations

from pathlib import Path

import click

from factory.cli.app import App, cli, handle_errors
from factory.cli.commands import JOB, PERIOD, _period
from factory.cli.output import esc
from factory.errors import ConfigError
from factory.models import Period


@cli.command("print")
@JOB
@PERIOD
@click.option("--archive", "archive_url", default=None, metavar="URL",
              help="Archive store URL (file:///path). Default: var/archive.")
@click.option("--index", "index_url", default=None, metavar="URL",
              help="Index database URL (sqlite:///path). Default: var/index.db.")
@click.pass_obj
@handle_errors
def print_files(app: App, job: Path, period: str | None, archive_url: str | None,
                index_url: str | None) -> None:
    """(Re)build JOB's print files for a period from its archived documents."""
    from factory.archive import open_index, open_store
    from factory.jobs import load_job
    from factory.runner import new_run_id
    from factory.runner.print_step import build_print, selection_rule
    from factory.runner.run import archive_urls

    settings = app.settings(archive_url=archive_url, index_url=index_url)
    spec = load_job(job)
    try:
        code = Period.parse(_period(period)).code
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    store_url, index_url = archive_urls(spec, settings)
    store = open_store(store_url)
    index = open_index(index_url)
    try:
        summary = build_print(spec, settings, code, store, index, new_run_id())
    finally:
        index.close()
    app.out.print(
        f"[green]✓[/] {spec.name} {code}: {summary.selected} of"
        f" {summary.archived_documents} archived document(s) selected by"
        f" {selection_rule(spec)!r}; {summary.batches} print file(s), {summary.envelopes}"
        f" envelope(s), {summary.sheets} sheet(s), {summary.pages} page(s)"
        f" ({summary.blank_pages} blank); {summary.written} output(s) written,"
        f" {summary.unchanged} unchanged, {summary.withdrawn} withdrawn", soft_wrap=True)
    if not spec.print_.enabled:
        app.out.print("  (the job's [print] is off: its runs build no print files; this"
                      " command built them on request)", soft_wrap=True)
    for key in summary.files:
        app.out.print(f"  {esc(store.url)}/{esc(key)}", soft_wrap=True)
    for warning in summary.warnings:
        app.out.print(f"[yellow]warning:[/] {esc(warning)}", soft_wrap=True)
