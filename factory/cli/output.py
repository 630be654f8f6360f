"""How results are shown: the run summary, problem lists, tables.

Takes reports and lists; prints them with rich on the given console. Every string that comes
from a user, a file or a path goes through `escape` first: rich would read ``[schema.fields]`` as
markup and drop it (the consoles are built with ``emoji=False`` for ``:x:``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:
    from factory.models import ChannelCounts, RunReport


def esc(value: object) -> str:
    """``value`` as text rich prints as written: ``[x]`` is not taken for markup."""
    return escape(str(value))


def print_summary(console: Console, report: RunReport, run_dir: str) -> None:
    c = report.counts
    title = "Dry run" if report.dry_run else "Run"
    table = Table(title=escape(f"{title} {report.run_id}: {report.job} {report.period}"),
                  show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    status_style = {"completed": "green", "interrupted": "yellow", "failed": "red"}
    table.add_row("status", f"[{status_style[report.status]}]{report.status}[/]")
    table.add_row("input records", str(c.input))
    if report.dry_run:
        table.add_row("to render", str(c.pending))
        table.add_row("already archived (skip)", str(c.skipped))
        table.add_row("rejected", _warn(c.rejected))
    else:
        table.add_row("rendered", str(c.rendered))
        table.add_row("archived", str(c.archived))
        table.add_row("skipped (archived before)", str(c.skipped))
        table.add_row("rejected", _warn(c.rejected))
        table.add_row("failed", _bad(c.failed))
        if c.pending:
            table.add_row("not processed", _warn(c.pending))
        table.add_row("pages", str(c.pages))
    table.add_row("elapsed", f"{report.elapsed_seconds:.1f} s")
    if not report.dry_run:
        table.add_row("speed", f"{report.docs_per_second:.1f} docs/s,"
                               f" {report.pages_per_second:.1f} pages/s"
                               f" ({report.workers} worker{'s' * (report.workers != 1)},"
                               f" {report.executor})")
    mark = "[green]✓[/]" if report.balanced else "[red]✗ DOES NOT BALANCE[/]"
    table.add_row("reconciliation", f"{mark} {c.reconciliation_line(report.pending_label)}")
    if report.unread:
        table.add_row("[red]not read[/]", escape(report.unread))
    if report.by_locale:
        locales = sorted(report.by_locale.items())
        table.add_row("by locale", ", ".join(f"{k} {v}" for k, v in locales))
    if report.by_document_type:
        table.add_row("by document type",
                      ", ".join(f"{k} {v}" for k, v in report.by_document_type.items()))
    if report.segments:
        table.add_row("by segment", ", ".join(
            f"{escape(k)} {v}" + (f" (variant {escape(report.variants[k])})"
                                  if k in report.variants else "")
            for k, v in report.segments.items()))
    for why, count in report.filtered_out.items():
        table.add_row("filtered out", f"{count} ({escape(why)})")
    if report.dry_run and report.routing:
        table.add_row("routing", ", ".join(f"{k} {v}" for k, v in report.routing.items()))
    for name in sorted(report.channels, key=channel_rank):
        table.add_row(f"  {escape(name)}", _channel_line(name, report.channels[name],
                                                         report.dry_run))
    for reason, count in sorted(report.suppression_reasons.items(),
                                key=lambda kv: -kv[1])[:8]:
        table.add_row("  suppressed", f"{count} × {escape(reason)}")
    for reason, count in sorted(report.reject_reasons.items(), key=lambda kv: -kv[1])[:8]:
        table.add_row("  reject", f"{count} × {escape(reason)}")
    for reason, count in sorted(report.failure_reasons.items(), key=lambda kv: -kv[1])[:8]:
        table.add_row("  failure", f"{count} × {escape(reason)}")
    _first_problems(table, run_dir)
    table.add_row("report", escape(f"{run_dir}/report.json"))
    if report.rejects_file:
        table.add_row("rejects", escape(report.rejects_file))
    if report.failures_file:
        table.add_row("failures", escape(report.failures_file))
    if report.filtered_file:
        table.add_row("filtered out", escape(report.filtered_file))
    if report.print_files:
        pf = report.print_files
        table.add_row("print files", f"{pf['batches']} ({pf['envelopes']} envelopes,"
                      f" {pf['sheets']} sheets, {pf['pages']} pages of which"
                      f" {pf['blank_pages']} blank; {pf['selected']} documents selected)")
    if report.suppressions_file:
        table.add_row("suppressions", escape(report.suppressions_file))
    if not report.dry_run:
        table.add_row("archive", escape(report.store_url))
        table.add_row("index", escape(report.index_url))
    for warning in report.warnings:
        table.add_row("[yellow]warning[/]", escape(warning))
    if report.stop_reason:
        table.add_row("[red]stopped[/]", escape(report.stop_reason))
    if report.error:
        table.add_row("[red]error[/]", escape(report.error))
    if console.is_terminal:
        console.print(table)
        return
    # Not a terminal (cron, CI, a pipe): plain "label: value" lines that never wrap or truncate.
    console.print(Text.from_markup(str(table.title), emoji=False).plain, markup=False)
    labels, values = table.columns[0].cells, table.columns[1].cells
    for label, value in zip(labels, values, strict=True):
        label_text = Text.from_markup(str(label), emoji=False).plain
        value_text = Text.from_markup(str(value), emoji=False).plain
        console.print(f"  {label_text}: {value_text}", markup=False, soft_wrap=True)


def _first_problems(table: Table, run_dir: str, limit: int = 5) -> None:
    """The first rejected and failed records, each with its key and its full reason."""
    from pathlib import Path

    from factory.ops.runs import run_problems

    found = run_problems(Path(run_dir), limit)
    for label, rows in (("  rejected", found["rejects"]), ("  failed", found["failures"])):
        for row in rows:
            where = f"line {row['line']}" if row.get("line") else f"record {row.get('record')}"
            key = row.get("key") or "(no key)"
            table.add_row(label, f"{escape(str(key))} ({where}): {escape(str(row['reason']))}")


def _channel_line(name: str, counts: ChannelCounts, dry_run: bool) -> str:
    if dry_run:
        return f"suppressed {counts.suppressed}"
    done = {"pdf": ("archived", counts.archived), "print": ("queued", counts.queued)}.get(
        name, ("sent", counts.sent))
    return (f"rendered {counts.rendered}, {done[0]} {done[1]}, skipped {counts.skipped},"
            f" failed {_bad(counts.failed_permanent)} permanent"
            f" + {_bad(counts.failed_retryable)} retryable,"
            f" suppressed {_warn(counts.suppressed)}")


def _warn(value: int) -> str:
    return f"[yellow]{value}[/]" if value else "0"


def _bad(value: int) -> str:
    return f"[red]{value}[/]" if value else "0"


def print_problems(console: Console, title: str, problems: list[str]) -> None:
    console.print(f"[red]✗[/] {escape(title)}", highlight=False)
    for problem in problems:
        console.print(f"  - {escape(problem)}", highlight=False, soft_wrap=True)


def channel_rank(name: str) -> int:
    """Where channel ``name`` stands in the summary: the record's channel order, then others."""
    from factory.models import CHANNEL_ORDER  # not at import: `status` needs no models

    order = [str(channel) for channel in CHANNEL_ORDER]
    return order.index(name) if name in order else len(order)
