"""``docfactory audit``: verify the hash chain of the audit log, list its entries.

Takes an optional anchor (``SEQ:HASH`` printed by an earlier verify) or filters; prints
the result. ``verify`` exits 1 when any entry was edited, deleted or inserted.
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING

import click
from rich.table import Table

from factory.cli.app import EXIT_OK, EXIT_PROBLEMS, App, cli, handle_errors
from factory.cli.archive import INDEX
from factory.cli.output import esc

if TYPE_CHECKING:
    from factory.compliance import AuditLog


@cli.group()
def audit() -> None:
    """The append-only, hash-chained audit log of retrievals, exports, holds and runs."""


def _log(app: App, index_url: str | None) -> AuditLog:
    from factory.compliance import AuditLog

    return AuditLog(app.open_index(index_url, existing=True))


@audit.command()
@click.option("--anchor", default=None, metavar="SEQ:HASH",
              help="A head printed earlier and kept elsewhere: prove nothing before it changed.")
@INDEX
@click.pass_obj
@handle_errors
def verify(app: App, anchor: str | None, index_url: str | None) -> None:
    """Recompute the chain; name every edited, deleted or inserted entry."""
    check = _log(app, index_url).verify(anchor)
    for problem in check.problems:
        app.out.print(f"[red]✗[/] {esc(problem)}", soft_wrap=True)
    if check.ok:
        app.out.print(f"[green]✓[/] audit log intact: {check.entries} entr"
                      f"{'y' if check.entries == 1 else 'ies'}; head"
                      f" {check.head_seq}:{check.head_hash}", soft_wrap=True)
        app.out.print("  keep the head somewhere else; `audit verify --anchor SEQ:HASH` later"
                      " proves nothing up to it changed", soft_wrap=True)
        sys.exit(EXIT_OK)
    app.out.print(f"[red]✗[/] audit log broken: {len(check.problems)} problem(s) in"
                  f" {check.entries} entries")
    sys.exit(EXIT_PROBLEMS)


@audit.command("list")
@click.option("--document", "document", default=None, help="Only entries about this document.")
@click.option("--limit", type=click.IntRange(1, 100_000), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@INDEX
@click.pass_obj
@handle_errors
def list_(app: App, document: str | None, limit: int, as_json: bool,
          index_url: str | None) -> None:
    """The newest entries first."""
    from factory.compliance.query import document_id

    log = _log(app, index_url)
    ids = [document_id(document)] if document else None
    entries = log.entries(document_ids=ids, limit=limit, newest_first=True)
    if as_json:
        app.out.print_json(json.dumps([e.as_dict() for e in entries]))
        return
    table = Table("seq", "at (UTC)", "actor", "role", "action", "outcome", "document / run",
                  "details")
    for e in entries:
        table.add_row(str(e.seq), f"{e.at:%Y-%m-%d %H:%M:%S}", e.actor, e.role, e.action,
                      e.outcome, e.document_id or e.run_id or "", e.details[:80])
    app.out.print(table)
