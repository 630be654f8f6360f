"""``docfactory archive reseal``: renew the timestamps of sealed documents (PAdES B-LTA).

Takes a TSA URL, how far ahead to look, an optional job, ``--force`` and ``--execute``; prints
what is due, what was renewed (as a new revision) and what was skipped. A dry run unless
``--execute``; exits 1 when a due document could not be renewed.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta

import click

from factory.cli.app import EXIT_OK, EXIT_PROBLEMS, App, handle_errors
from factory.cli.archive import ARCHIVE, INDEX, archive, open_service, shell_actor
from factory.config import parse_duration
from factory.errors import InputError


def _within(text: str) -> timedelta:
    count, unit = parse_duration(text)
    return timedelta(days=count * {"d": 1, "m": 30, "y": 365}[unit])


@archive.command()
@click.option("--tsa", "tsa_url", required=True, metavar="URL",
              help="The RFC 3161 time-stamping authority for the document timestamps.")
@click.option("--within", default="180d", show_default=True, metavar="DURATION",
              help="Renew documents whose timestamps stop being provable within this time"
                   " (their TSA certificate ends): 90d, 6m, 1y.")
@click.option("--job", default=None, help="Only this job's documents.")
@click.option("--force", is_flag=True, help="Renew every timestamped document, due or not.")
@click.option("--execute", is_flag=True,
              help="Really renew. Without it, only list what is due.")
@click.option("--json", "as_json", is_flag=True)
@ARCHIVE
@INDEX
@click.pass_obj
@handle_errors
def reseal(app: App, tsa_url: str, within: str, job: str | None, force: bool, execute: bool,
           as_json: bool, archive_url: str | None, index_url: str | None) -> None:
    """Add a document timestamp (PAdES B-LTA) to sealed documents whose timestamps approach
    the end of their validity; the content is unchanged and each renewal is audited."""
    if not tsa_url.startswith(("http://", "https://")):
        raise InputError(f"--tsa {tsa_url[:80]!r} is not an http(s) URL")
    if job:
        from factory.compliance.query import job_name

        job = job_name(job)
    service = open_service(app, archive_url, index_url)
    result = service.reseal(shell_actor(), datetime.now(UTC), _within(within), tsa_url, job,
                            force, execute)
    if as_json:
        app.out.print_json(json.dumps(result.as_dict()))
    else:
        renewed = {item["document_id"]: item for item in result.resealed}
        for item in result.due:
            done = renewed.get(item["document_id"])
            state = (f"renewed as {done['new_document_id']} (revision {done['revision']})"
                     if done else ("due" if not execute else "not renewed"))
            app.out.print(f"  {item['document_id']}  {item['profile']}  timestamps valid until"
                          f" {item['timestamps_valid_until'][:10]}: {state}", soft_wrap=True)
        for item in result.skipped:
            app.out.print(f"[red]✗[/] {item['document_id']}: {item['reason']}", soft_wrap=True)
        verb = "renewed" if execute else "due"
        count = len(result.resealed) if execute else len(result.due)
        app.out.print(f"{'[green]✓[/] ' if execute and result.ok else ''}{count} of"
                      f" {result.checked} PDF document(s) {verb}"
                      + ("" if execute else "; run with --execute to renew"), soft_wrap=True)
    sys.exit(EXIT_OK if result.ok else EXIT_PROBLEMS)
