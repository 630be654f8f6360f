"""``docfactory archive``: search, get, verify, export, hold, release, purge-expired, rerender.

Takes options and the environment; calls `factory.compliance` as the person at the shell
(actor ``cli:<user>``, every retrieval audited) and prints tables. Exit codes: 0 done; 1 a
check found problems (verify, a re-render that differs); 2 bad input (an unknown or malformed
id, a malformed or reversed date range, an export over the limit); 3 an archived object failed
its verification (altered, or missing from the store). Nothing is written when a command fails.
"""

from __future__ import annotations

import getpass
import json
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.markup import escape
from rich.table import Table

from factory.archive import open_store
from factory.cli.app import EXIT_FAILED, EXIT_OK, EXIT_PROBLEMS, App, cli, handle_errors
from factory.cli.output import esc
from factory.config import parse_size
from factory.errors import ArchiveError, InputError, IntegrityError
from factory.files import write_atomic

if TYPE_CHECKING:
    from factory.compliance import Actor, ComplianceService

# The compliance service (SQLAlchemy, pyHanko...) is imported by the commands that use it.

ARCHIVE = click.option("--archive", "archive_url", default=None, metavar="URL",
                       help="Archive store URL. Default: var/archive.")
INDEX = click.option("--index", "index_url", default=None, metavar="URL",
                     help="Index database URL. Default: var/index.db.")


def shell_actor() -> Actor:
    from factory.archive.audit import Actor

    try:
        user = getpass.getuser()
    except (OSError, KeyError):
        user = "unknown"
    return Actor(f"cli:{user}", "shell")


def open_service(app: App, archive_url: str | None, index_url: str | None
                 ) -> ComplianceService:
    from factory.compliance import ComplianceService

    index = app.open_index(index_url, existing=True)
    settings = app.settings(archive_url=archive_url, index_url=index_url)
    store = open_store(settings.archive_url or settings.default_archive_url)
    from factory.render.seal_data import export_sealer

    return ComplianceService(index, store, settings.export_max_bytes, seal_trust(settings),
                             export_sealer(settings))


def seal_trust(settings: Any) -> list[Any] | None:
    """The trust anchors of ``seal_trust`` (docfactory.toml / FACTORY_SEAL_TRUST), loaded."""
    if not settings.seal_trust:
        return None
    from factory.render.seal import load_trust

    return load_trust(settings.seal_trust, settings.root)


def filters(function: Any) -> Any:
    """The search filters shared by ``search`` and ``export``."""
    options = [
        click.option("--customer", default=None, help="Customer id."),
        click.option("--type", "document_type", default=None, help="Document type."),
        click.option("--job", default=None, help="Job name."),
        click.option("--channel", default=None, help="Channel (pdf, email, sms)."),
        click.option("--run", "run", default=None, help="Run id."),
        click.option("--from", "date_from", default=None, metavar="YYYY-MM[-DD]",
                     help="Documents whose period starts on or after this month or day."),
        click.option("--to", "date_to", default=None, metavar="YYYY-MM[-DD]",
                     help="... and on or before this month or day."),
        click.option("--invoice", default=None, metavar="NUMBER",
                     help="The documents of the invoice with this number (FV2026000123)."),
        click.option("--name", "customer_name", default=None,
                     help="Part of the customer's name, any case (jans: Jan Jansen)."),
        click.option("--account", default=None,
                     help="The customer's account (IBAN); end it with * for a prefix."),
    ]
    for option in reversed(options):
        function = option(function)
    return function


def integrity_exit(app: App, exc: IntegrityError) -> None:
    app.err.print(f"[red]integrity error:[/] {esc(exc)}", soft_wrap=True)
    sys.exit(EXIT_FAILED)


def missing_exit(app: App, service: ComplianceService, document_id: str) -> None:
    """An indexed document whose object the store does not have failed its verification
    (exit 3, as an altered one); any other store failure is left to `handle_errors`."""
    key = service.document(document_id).entry.storage_key
    try:
        gone = not service.store.exists(key)
    except ArchiveError:
        return  # the store cannot tell (unreachable): not known to be missing
    if gone:
        integrity_exit(app, IntegrityError(f"document {document_id}: its object {key} is"
                                           f" missing from {service.store.url}"))


@cli.group()
def archive() -> None:
    """Find, prove, retrieve and export archived documents (every retrieval is audited)."""


@archive.command()
@filters
@click.option("--limit", type=click.IntRange(1, 10_000), default=1000, show_default=True)
@click.option("--revisions", is_flag=True,
              help="Every revision, superseded ones too (default: the current revision).")
@click.option("--json", "as_json", is_flag=True, help="Print the matches as JSON.")
@ARCHIVE
@INDEX
@click.pass_obj
@handle_errors
def search(app: App, customer: str | None, document_type: str | None, job: str | None,
           channel: str | None, run: str | None, date_from: str | None, date_to: str | None,
           invoice: str | None, customer_name: str | None, account: str | None,
           limit: int, revisions: bool, as_json: bool,
           archive_url: str | None,
           index_url: str | None) -> None:
    """A table of the archived documents that match every filter given."""
    from factory.compliance import DocumentQuery

    query = DocumentQuery.parse(customer=customer, document_type=document_type, job=job,
                                channel=channel, run=run, date_from=date_from,
                                date_to=date_to, limit=limit, revisions=revisions,
                                invoice=invoice, customer_name=customer_name, account=account)
    found, more = open_service(app, archive_url, index_url).search(shell_actor(), query)
    if as_json:
        app.out.print_json(json.dumps([d.as_dict() for d in found]))
        return
    table = Table("document", "rev", "customer", "job", "period", "type", "channel", "locale",
                  "pages", "bytes", "created (UTC)", "template", "hold",
                  title=f"{len(found)} document(s)", title_justify="left")
    for document in found:
        e = document.entry
        revision = str(e.revision) if e.current else f"{e.revision} (superseded)"
        table.add_row(e.document_id, revision, escape(e.customer_id), e.job, e.period,
                      e.document_type, e.channel, e.locale, str(e.page_count or ""),
                      f"{e.byte_size:,}", f"{e.created_at:%Y-%m-%d %H:%M}",
                      e.template_version[:12],
                      "[bold red]HOLD[/]" if document.legal_hold else "")
    app.out.print(table)
    if more:
        app.err.print(f"[yellow]more than {limit} match; narrow the search or raise --limit[/]")


@archive.command()
@click.argument("document_id")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Where to write the document (default: <document id>.<ext> here).")
@ARCHIVE
@INDEX
@click.pass_obj
@handle_errors
def get(app: App, document_id: str, output: Path | None, archive_url: str | None,
        index_url: str | None) -> None:
    """Write DOCUMENT_ID's exact bytes, verified against the recorded SHA-256 (never over an
    existing file)."""
    service = open_service(app, archive_url, index_url)
    target = output or Path(service.document(document_id).file_name)
    if target.exists():
        raise InputError(f"{target} exists already; choose another name (nothing written)")
    try:
        document, data = service.get(shell_actor(), document_id)
    except IntegrityError as exc:
        integrity_exit(app, exc)
        return
    except ArchiveError:
        missing_exit(app, service, document_id)
        raise
    try:
        write_atomic(target, data, exclusive=True)
    except FileExistsError:
        raise InputError(f"{target} exists already; choose another name (nothing written)"
                         ) from None
    app.out.print(f"[green]✓[/] {escape(str(target))}: {len(data):,} bytes, SHA-256"
                  f" {document.entry.sha256} (verified)", soft_wrap=True)
    entry = document.entry
    if not entry.current:
        successor = f"by {entry.superseded_by}" if entry.superseded_by else "(withdrawn)"
        app.err.print(f"[yellow]note:[/] revision {entry.revision}, superseded {successor} on"
                      f" {entry.superseded_at:%Y-%m-%d %H:%M} UTC by"
                      f" {escape(entry.superseded_actor or '?')}:"
                      f" {escape(entry.supersede_reason or 'no reason given')}", soft_wrap=True)


@archive.command()
@click.option("--job", default=None, help="Only this job's documents and objects.")
@click.option("--all", "everything", is_flag=True, help="The whole archive (the default).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@ARCHIVE
@INDEX
@click.pass_obj
@handle_errors
def verify(app: App, job: str | None, everything: bool, as_json: bool,
           archive_url: str | None, index_url: str | None) -> None:
    """Recompute every checksum from the store and check every seal; report missing, altered
    and orphan objects, broken seals and documents modified after sealing."""
    if job and everything:
        raise click.UsageError("give --job or --all, not both")
    if job:
        from factory.compliance.query import job_name

        job = job_name(job)
    report = open_service(app, archive_url, index_url).verify(job)
    if as_json:
        app.out.print_json(json.dumps(report.as_dict()))
    else:
        for finding in report.findings:
            app.out.print(f"[red]✗[/] {finding.describe()}", soft_wrap=True, markup=True)
        counts = report.counts()
        mark = "[green]✓[/]" if report.ok else "[red]✗[/]"
        app.out.print(
            f"{mark} {report.scope}: {report.documents} document(s) ({report.bytes:,} bytes),"
            f" {report.snapshots} record snapshot(s), {report.template_versions} template-set"
            f" version(s), {report.objects} stored object(s) checked: {counts['missing']}"
            f" missing, {counts['altered']} altered, {counts['orphan']} orphan"
            + (f", {counts['unheld']} on legal hold but not held by the store"
               if counts["unheld"] else "")
            + f"; {report.sealed} sealed document(s), {counts['seal']} seal problem(s)",
            soft_wrap=True)
    sys.exit(EXIT_OK if report.ok else EXIT_PROBLEMS)


@archive.command()
@filters
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="The bundle to write (a .zip; must not exist yet).")
@click.option("--max-bytes", default=None, metavar="SIZE",
              help="Refuse exports larger than this (500M, 2G; default: export_max_bytes).")
@ARCHIVE
@INDEX
@click.pass_obj
@handle_errors
def export(app: App, customer: str | None, document_type: str | None, job: str | None,
           channel: str | None, run: str | None, date_from: str | None, date_to: str | None,
           invoice: str | None, customer_name: str | None, account: str | None, output: Path,
           max_bytes: str | None, archive_url: str | None,
           index_url: str | None) -> None:
    """Write an auditor's bundle: documents, manifest (JSON and CSV), audit entries."""
    from factory.compliance import DocumentQuery

    query = DocumentQuery.parse(customer=customer, document_type=document_type, job=job,
                                channel=channel, run=run, date_from=date_from,
                                date_to=date_to, limit=None, invoice=invoice,
                                customer_name=customer_name, account=account)
    service = open_service(app, archive_url, index_url)
    limit = parse_size(max_bytes) if max_bytes else None
    try:
        summary = service.export(shell_actor(), query, output, limit)
    except IntegrityError as exc:
        integrity_exit(app, exc)
        return
    app.out.print(f"[green]✓[/] {esc(summary.path)}: {summary.documents} document(s)"
                  f" ({summary.document_bytes:,} bytes), {summary.audit_entries} audit"
                  f" entr{'y' if summary.audit_entries == 1 else 'ies'}; bundle"
                  f" {summary.bundle_bytes:,} bytes, SHA-256 {summary.sha256}", soft_wrap=True)


def _hold(app: App, document_id: str, reason: str, archive_url: str | None,
          index_url: str | None, hold: bool) -> None:
    service = open_service(app, archive_url, index_url)
    action = service.hold if hold else service.release
    document, changed = action(shell_actor(), document_id, reason)
    state = "on legal hold" if document.legal_hold else "not on hold"
    note = "" if changed else " (unchanged)"
    if document.legal_hold and not getattr(service.store, "legal_holds", True):  # S3, no lock
        note += f"; in the index only: {service.store.url} has no Object Lock to hold objects"
    app.out.print(f"[green]✓[/] {document.document_id}: {state}{note}", soft_wrap=True)


@archive.command()
@click.argument("document_id")
@click.option("--reason", default="", help="Why (a case number); kept in the audit log.")
@ARCHIVE
@INDEX
@click.pass_obj
@handle_errors
def hold(app: App, document_id: str, reason: str, archive_url: str | None,
         index_url: str | None) -> None:
    """Put DOCUMENT_ID on legal hold: it is never purged or replaced until released."""
    _hold(app, document_id, reason, archive_url, index_url, True)


@archive.command()
@click.argument("document_id")
@click.option("--reason", default="", help="Why; kept in the audit log.")
@ARCHIVE
@INDEX
@click.pass_obj
@handle_errors
def release(app: App, document_id: str, reason: str, archive_url: str | None,
            index_url: str | None) -> None:
    """Release DOCUMENT_ID's legal hold."""
    _hold(app, document_id, reason, archive_url, index_url, False)


@archive.command("purge-expired")
@click.option("--execute", is_flag=True,
              help="Really delete. Without it, only list what would be deleted.")
@ARCHIVE
@INDEX
@click.pass_obj
@handle_errors
def purge_expired(app: App, execute: bool, archive_url: str | None,
                  index_url: str | None) -> None:
    """Delete documents past retention that are not on hold (a dry run unless --execute)."""
    service = open_service(app, archive_url, index_url)
    result = service.purge_expired(shell_actor(), datetime.now(UTC), execute)
    verb = "purged" if execute else "would purge"
    for document in result.expired:
        e = document.entry
        app.out.print(f"  {verb} {e.document_id}  {esc(e.job)} {e.period} {esc(e.customer_id)}"
                      f"  retained until {e.retention_until:%Y-%m-%d}", soft_wrap=True)
    for warning in result.warnings:
        app.err.print(f"[yellow]warning:[/] {esc(warning)}", soft_wrap=True)
    held = len(result.kept_on_hold)
    done = len(result.purged) if execute else len(result.expired)
    app.out.print(f"{'[green]✓[/] ' if execute else ''}{verb} {done} document(s)"
                  f" ({result.bytes:,} bytes) past retention; {held} past retention kept on"
                  " legal hold" + ("" if execute else "; run with --execute to delete"))


@archive.command()
@click.argument("document_id")
@click.option("--job", "job_file", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Job file, only for documents archived without job settings.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the re-rendered PDF here.")
@ARCHIVE
@INDEX
@click.pass_obj
@handle_errors
def rerender(app: App, document_id: str, job_file: Path | None, output: Path | None,
             archive_url: str | None, index_url: str | None) -> None:
    """Render DOCUMENT_ID again from its archived record and template set; compare the text."""
    from factory.jobs import load_job

    service = open_service(app, archive_url, index_url)
    spec = load_job(job_file) if job_file else None
    with tempfile.TemporaryDirectory(prefix="docfactory-rerender-") as workdir:
        try:
            result: Any = service.rerender(shell_actor(), document_id, Path(workdir), spec)
        except IntegrityError as exc:
            integrity_exit(app, exc)
            return
    if output is not None:
        write_atomic(output, result.rendered)
    e = result.document.entry
    where = (f"{e.document_id} ({e.job} {e.period}, customer {e.customer_id}, template-set"
             f" version {e.template_version[:12]})")
    if result.matches:
        same = ("byte for byte" if result.byte_identical else
                "in the text of every page (the PDF bytes differ)")
        app.out.print(f"[green]✓[/] {esc(where)}: re-rendered from the archived record and template"
                      f" set, it matches the archived document {same}"
                      f" ({result.archived_pages} page(s))", soft_wrap=True)
        sys.exit(EXIT_OK)
    app.out.print(f"[red]✗[/] {esc(where)}: the re-rendered text differs from the archived"
                  " document:", soft_wrap=True)
    for line in result.differences:
        app.out.print(line, markup=False, soft_wrap=True)
    sys.exit(EXIT_PROBLEMS)

