"""``docfactory render JOB --record-json FILE``: one document for one record, now.

Takes a job file and a JSON file holding one record (as ``POST /api/documents`` takes it);
gives the archived document's id (and its PDF with ``-o``), through the same on-demand run
and pipeline as the HTTP service (`factory.ondemand`). A record that does not fit the job's
schema is refused naming the file and the field (exit 1). Audited as ``document.render``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from factory.cli.app import App, cli, handle_errors
from factory.cli.archive import shell_actor
from factory.cli.output import esc
from factory.errors import ConfigError, InputError, RecordError


@cli.command()
@click.argument("job", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--record-json", "record_file", required=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A JSON file with one record (an object), as the job's [schema] says.")
@click.option("--period", default=None, help="YYYY-MM or YYYY-MM-DD (default: today).")
@click.option("--reason", default="", metavar="TEXT",
              help="Render a new revision when the record's document is archived already.")
@click.option("--idempotency-key", default=None, metavar="KEY",
              help="The same key gives the same document back, however often it is run.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the PDF here.")
@click.option("--archive", "archive_url", default=None, metavar="URL")
@click.option("--index", "index_url", default=None, metavar="URL")
@click.pass_obj
@handle_errors
def render(app: App, job: Path, record_file: Path, period: str | None, reason: str,
           idempotency_key: str | None, output: Path | None, archive_url: str | None,
           index_url: str | None) -> None:
    """Render, archive, index and deliver one record of JOB now (an on-demand document)."""
    from factory.archive import open_index
    from factory.compliance import AuditLog
    from factory.ondemand import OnDemandService, RenderRequest
    from factory.runner.run import archive_urls

    try:
        data = json.loads(record_file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{record_file}: not a JSON file: {exc}") from None
    if not isinstance(data, dict):
        raise InputError(f"{record_file}: must hold one record, a JSON object")
    settings = app.settings(archive_url=archive_url, index_url=index_url)
    from factory.jobs import load_job

    spec = load_job(job)
    from factory.ondemand.letters import letter_jobs

    if letter_jobs({spec.name: spec}, settings):  # its template needs a written letter
        raise ConfigError(f"{job}: job {spec.name!r} writes interactive letters (its template"
                          " set has editable blocks): write them in the web pages, /letters/new")
    actor = shell_actor()
    service = OnDemandService(settings)
    try:
        try:
            result = service.render(spec, RenderRequest(
                data=data, period=period, reason=reason, idempotency_key=idempotency_key,
                actor=actor))
        except RecordError as exc:
            field = f" field {exc.field!r}:" if exc.field else ""
            raise InputError(f"{record_file}:{field} {exc.reason}") from None
        index = open_index(archive_urls(spec, settings)[1], migrate=False)
        try:
            AuditLog(index).record(
                actor, "document.render", document_id=result.document_id,
                run_id=result.run_id, outcome="ok" if result.ok else "failed",
                details={"job": spec.name, "period": result.period,
                         "record_key": result.record_key, "created": result.created,
                         "idempotency_key": bool(idempotency_key), "reason": reason[:500]})
        finally:
            index.close()
        if output is not None and result.ok and result.document_id:
            output.write_bytes(service.pdf(spec, result.document_id))
    finally:
        service.close()
    if app.quiet:
        click.echo(json.dumps(result.as_dict(), ensure_ascii=False))
    else:
        verb = "rendered" if result.created else "already archived"
        app.out.print(f"{esc(result.record_key)} ({result.period}): {result.outcome.status.value}"
                      f", document {result.document_id} {verb}; run {result.run_id}")
        if result.outcome.reason:
            app.out.print(f"  reason: {esc(result.outcome.reason)}")
        if output is not None and result.ok:
            app.out.print(f"  PDF: {esc(str(output))}")
    sys.exit(0 if result.ok else 1)


@cli.command()
@click.argument("job", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--period", required=True, help="YYYY-MM or YYYY-MM-DD")
@click.option("--mailbox", "mailbox_path", default=None,
              type=click.Path(exists=True, path_type=Path),
              help="Delivery status notifications to read first (Maildir folder or mbox).")
@click.pass_obj
@handle_errors
def fallbacks(app: App, job: Path, period: str, mailbox_path: Path | None) -> None:
    """Send, once, over the next channel of their route the messages of JOB refused later (DSNs
    in --mailbox, SMS delivery reports): idempotent, run it as often as you like."""
    from factory.jobs import load_job
    from factory.runner.fallbacks import process_fallbacks

    summary = process_fallbacks(load_job(job), app.settings(), period, mailbox_path,
                                shell_actor().id)
    if app.quiet:
        click.echo(json.dumps(summary.as_dict(), ensure_ascii=False, default=str))
        return
    app.out.print(f"{esc(summary.job)} {summary.period}: {summary.dsn_messages} DSN message(s)"
                  f" read, {summary.dsn_matched} matched a sent email; {summary.pending}"
                  " refused message(s) to fall back")
    for item in summary.outcomes:
        app.out.print(f"  {esc(item['record_key'])}: {item['status']}"
                      f" {esc(json.dumps(item['channels']))}")
