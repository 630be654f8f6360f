"""The template lifecycle commands: ``proof``, ``templates approve``, ``templates list``.

Takes parsed options; calls `factory.proofs` and `factory.archive.versions` and prints the
result. ``proof`` exits with:

    0  no proof record changed, and every layout check passed with the current version
    1  some records changed (pixels, text or page count); every layout check passed
    2  nothing was proofed: a usage, job, template, source or REF error
    3  a layout check failed, or a record did not render, with the current version
       (whether or not anything changed); the report says which record, page and check
"""

from __future__ import annotations

import getpass
import json
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from factory.cli.app import EXIT_FAILED, EXIT_OK, EXIT_PROBLEMS, App, cli, handle_errors
from factory.cli.commands import JOB, PERIOD, _period
from factory.cli.output import esc
from factory.errors import ConfigError

if TYPE_CHECKING:
    from factory.config import Settings
    from factory.jobs import JobSpec
    from factory.proofs import ProofReport, RecordProof

ARCHIVE = click.option("--archive", "archive_url", default=None, metavar="URL",
                       help="Archive store URL (default: the job's, else var/archive).")
INDEX = click.option("--index", "index_url", default=None, metavar="URL",
                     help="Index database URL (default: the job's, else var/index.db).")
JOB_OPTION = click.option("--job", "job_path", default=None,
                          type=click.Path(dir_okay=False, path_type=Path),
                          help="Take the template set, brand, archive and index from this job.")


@cli.command()
@JOB
@click.option("--against", "ref", required=True, metavar="REF",
              help="Version to compare with: a template-set version hash (or a unique prefix)"
                   " from the index, 'approved' (the last approved one), or a git revision.")
@PERIOD
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Report folder (default: var/proofs/<job>-<time>).")
@click.option("--dpi", type=click.IntRange(36, 300), default=96, show_default=True,
              help="Resolution of the page images.")
@click.option("--issued", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="Issue date printed on the proofs (default: the day after the period,"
                   " or today while it is open).")
@ARCHIVE
@INDEX
@click.pass_obj
@handle_errors
def proof(app: App, job: Path, ref: str, period: str | None, out: Path | None, dpi: int,
          issued: datetime | None, archive_url: str | None, index_url: str | None) -> None:
    """Render JOB's proof records with the current templates and with REF; compare and check.

    Proof records are the job's `proofs = [...]` keys plus edge cases found in the input
    (longest name, most and fewest line items, most empty optional fields, one per locale).
    Writes report.html (side-by-side pages, pixel-difference overlays, text diffs, layout
    checks). Exit 0: nothing changed; 1: changes; 3: a layout check failed; 2: usage error.
    """
    from factory.archive import open_index, open_store
    from factory.jobs import load_job
    from factory.runner.run import RunOptions, prepare

    try:
        from factory.proofs import ProofOptions, resolve_ref, run_proof, working_tree
    except ImportError as exc:  # pragma: no cover - the proof extra is part of [all]
        raise ConfigError(f"proofs need the 'proof' extra (pip install 'docfactory[proof]'):"
                          f" {exc}") from None

    settings = app.settings(archive_url=archive_url, index_url=index_url)
    spec = load_job(job)
    prepared = prepare(spec, settings, RunOptions(
        period=_period(period), issued=issued.date() if issued else None))
    index = open_index(prepared.index_url)
    store = open_store(prepared.store_url)
    moment = datetime.now(UTC)
    out = out or settings.var_dir / "proofs" / f"{spec.name}-{moment:%Y%m%dT%H%M%SZ}"
    scratch_root = settings.var_dir / "tmp"
    scratch_root.mkdir(parents=True, exist_ok=True)

    def progress(done: int, total: int, result: RecordProof) -> None:
        if not app.quiet:
            state = "failed" if result.failed else "changed" if result.changed else "unchanged"
            app.err.print(f"  [{done}/{total}] {esc(result.key)}: {state}",
                          highlight=False)

    try:
        with tempfile.TemporaryDirectory(prefix="docfactory-proof-", dir=scratch_root) as tmp:
            against = resolve_ref(ref, spec, settings, index, store, Path(tmp))
            report = run_proof(spec, settings, prepared.source, prepared.schema,
                               working_tree(settings), against,
                               ProofOptions(prepared.period, prepared.issued, out, dpi),
                               index=index, progress=progress)
    finally:
        index.close()
    _print_proof(app, report)
    if report.failed:
        sys.exit(EXIT_FAILED)
    sys.exit(EXIT_PROBLEMS if report.changed else EXIT_OK)


def _print_proof(app: App, r: ProofReport) -> None:
    from rich.table import Table

    from factory.templates.templateset import short_version

    out = app.out
    out.print(f"Proof of {esc(r.job)}: template set {esc(repr(r.template_set))},"
              f" brand {esc(repr(r.brand))}",
              highlight=False)
    for name, info in (("current", r.current), ("against", r.against)):
        approval = info.approval
        approved = (f"approved by {approval.approved_by} {approval.approved_at:%Y-%m-%d}"
                    if approval else "not approved")
        out.print(f"  {esc(name)}: {esc(info.label)}, version {short_version(info.version)}"
                  f" ({approved})",
                  highlight=False, soft_wrap=True)
    if r.current.version == r.against.version:
        out.print("  note: both are the same template-set version, so nothing can differ",
                  highlight=False)
    table = Table("record", "picked because", "pages", "changed pixels", "text lines",
                  "layout (current)", "status")
    for rec in r.records:
        findings = "render error" if rec.new.error else (
            ", ".join(dict.fromkeys(f.title for f in rec.new.findings)) or "ok")
        status = ("[red]failed[/]" if rec.failed else
                  "[yellow]changed[/]" if rec.changed else "[green]unchanged[/]")
        table.add_row(rec.key, ", ".join(rec.reasons), f"{rec.old.pages} → {rec.new.pages}",
                      f"{rec.changed_pixels:,} ({rec.largest_change:.2%})",
                      str(len(rec.text_diff)), findings, status)
    out.print(table)
    for rec in r.failed:
        if rec.new.error:
            out.print(f"[red]✗[/] {esc(rec.key)}: does not render: {esc(rec.new.error)}",
                      soft_wrap=True)
        for finding in rec.new.findings:
            page = f" page {finding.page}" if finding.page else ""
            out.print(f"[red]✗[/] {esc(rec.key)}{page}: {esc(finding.title)}:"
                      f" {esc(finding.message)}",
                      soft_wrap=True, highlight=False)
    summary = {"failed": "[red]FAILED[/]: layout checks fail or records do not render",
               "changed": "[yellow]changed[/]", "unchanged": "[green]unchanged[/]"}
    out.print(f"{summary[r.status]}: {len(r.changed)} of {len(r.records)} record(s) changed,"
              f" {len(r.failed)} failing")
    out.print(f"report: {esc(r.html_path)}", highlight=False, soft_wrap=True)


@cli.group()
def templates() -> None:
    """Template-set versions: which were used and approved; approve the current one."""


def _brands(assets_dir: Path) -> list[str]:
    if not assets_dir.is_dir():
        return []
    return sorted(p.name for p in assets_dir.iterdir() if (p / "brand.toml").is_file())


def _target(settings: Settings, template_set: str | None, brand: str | None,
            job_path: Path | None) -> tuple[str, str, JobSpec | None]:
    from factory.jobs import load_job
    from factory.templates.templateset import SHARED

    spec = load_job(job_path) if job_path else None
    template_set = template_set or (spec.template_set if spec else None)
    if not template_set:
        raise ConfigError("name the template set (TEMPLATE_SET) or give --job")
    if template_set == SHARED:
        raise ConfigError(f"{SHARED!r} holds shared partials; name a template set")
    brand = brand or (spec.brand if spec else None)
    if not brand:
        found = _brands(settings.assets_dir)
        if len(found) != 1:
            listed = ", ".join(found) or "none"
            raise ConfigError(f"name the brand with --brand (brands in {settings.assets_dir}:"
                              f" {listed})")
        brand = found[0]
    return template_set, brand, spec


@templates.command("approve")
@click.argument("template_set", required=False)
@click.option("--brand", default=None, help="Brand (default: the job's, or the only one).")
@click.option("--by", "approved_by", default=None, metavar="NAME",
              help="Who approves (default: the operating-system user).")
@click.option("--note", default="", help="Why: a ticket, a change description.")
@JOB_OPTION
@ARCHIVE
@INDEX
@click.pass_obj
@handle_errors
def approve_command(app: App, template_set: str | None, brand: str | None,
                    approved_by: str | None, note: str, job_path: Path | None,
                    archive_url: str | None, index_url: str | None) -> None:
    """Approve the current version of TEMPLATE_SET for production runs.

    Records who, when and the content hash in the index, and keeps the version's files in the
    archive so it can be rendered again. Jobs with `require_approval = true` run only
    approved versions.
    """
    from factory.archive import open_index, open_store
    from factory.archive.versions import approve, keep_version
    from factory.runner.run import archive_urls
    from factory.templates.brand import load_brand
    from factory.templates.templateset import TemplateSet, short_version

    settings = app.settings(archive_url=archive_url, index_url=index_url)
    template_set, brand, spec = _target(settings, template_set, brand, job_path)
    current = TemplateSet.load(settings.templates_dir, settings.assets_dir, template_set, brand)
    load_brand(current.brand_dir)
    who = approved_by or _os_user()
    store_url, index_url = archive_urls(spec, settings)
    index = open_index(index_url)
    try:
        keep_version(open_store(store_url), index, current)
        approval, new = approve(index, template_set, current.version, who, note)
    finally:
        index.close()
    when = f"{approval.approved_at:%Y-%m-%d %H:%M} UTC"
    if new:
        app.out.print(f"[green]✓[/] approved template set {esc(repr(template_set))}"
                      f" (brand {esc(repr(brand))})"
                      f" version {short_version(current.version)} by {esc(approval.approved_by)}"
                      f" at {when}", highlight=False, soft_wrap=True)
    else:
        app.out.print(f"[green]✓[/] template set {esc(repr(template_set))} version"
                      f" {short_version(current.version)} was already approved by"
                      f" {esc(approval.approved_by)} at {when}", highlight=False, soft_wrap=True)
    app.out.print(f"  version {current.version}", highlight=False)


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        raise ConfigError("cannot tell who you are: give --by NAME") from None


@templates.command("list")
@click.argument("template_set", required=False)
@JOB_OPTION
@INDEX
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
@handle_errors
def list_command(app: App, template_set: str | None, job_path: Path | None,
                 index_url: str | None, as_json: bool) -> None:
    """Template-set versions seen in the archive: approval and documents produced."""
    from factory.archive import open_index
    from factory.archive.versions import list_versions
    from factory.jobs import load_job
    from factory.runner.run import archive_urls
    from factory.templates.templateset import short_version

    settings = app.settings(index_url=index_url)
    spec = load_job(job_path) if job_path else None
    template_set = template_set or (spec.template_set if spec else None)
    _, index_url = archive_urls(spec, settings)
    index = open_index(index_url)
    try:
        versions = list_versions(index, template_set)
    finally:
        index.close()
    current = _current_versions(settings, {(v.template_set, v.brand) for v in versions})
    if as_json:
        app.out.print_json(json.dumps([{
            "version": v.version, "template_set": v.template_set, "brand": v.brand,
            "first_used_at": v.first_used_at, "documents": v.documents,
            "last_document_at": v.last_document_at, "current": v.version in current,
            "approved_by": v.approval.approved_by if v.approval else None,
            "approved_at": v.approval.approved_at if v.approval else None,
            "note": v.approval.note if v.approval else None,
        } for v in versions], default=str))
        return
    from rich.table import Table

    table = Table("version", "template set", "brand", "first seen (UTC)", "documents",
                  "last document", "approved", "")
    for v in versions:
        approved = (f"{v.approval.approved_by} {v.approval.approved_at:%Y-%m-%d %H:%M}"
                    if v.approval else "[yellow]no[/]")
        last = f"{v.last_document_at:%Y-%m-%d %H:%M}" if v.last_document_at else "—"
        table.add_row(short_version(v.version), v.template_set, v.brand,
                      f"{v.first_used_at:%Y-%m-%d %H:%M}", str(v.documents), last, approved,
                      "current" if v.version in current else "")
    app.out.print(table)
    if not versions:
        app.out.print("no template-set versions in the index yet: they appear with the first"
                      " run or approval")


def _current_versions(settings: Settings, pairs: set[tuple[str, str]]) -> set[str]:
    """The versions the working tree holds now, for the (set, brand) pairs listed."""
    from factory.templates.templateset import TemplateSet

    found = set()
    for name, brand in pairs:
        try:
            found.add(TemplateSet.load(settings.templates_dir, settings.assets_dir, name,
                                       brand).version)
        except ConfigError:
            continue
    return found
