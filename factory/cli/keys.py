"""``docfactory keys``: create, list and revoke API keys for the HTTP API.

Takes a role and a name; prints a new key ONCE (it is stored only as a salted hash), or the
list of keys (ids, names, roles; never the keys), or revokes one. Creating and revoking keys
are written to the audit log.
"""

from __future__ import annotations

import click
from rich.table import Table

from factory.cli.app import App, cli, handle_errors
from factory.cli.archive import INDEX, shell_actor
from factory.cli.output import esc
from factory.compliance import Role


@cli.group()
def keys() -> None:
    """API keys for `docfactory serve`: each key has one role."""


def _index(app: App, index_url: str | None):  # type: ignore[no-untyped-def]
    return app.open_index(index_url)


@keys.command()
@click.option("--role", required=True, type=click.Choice([r.value for r in Role]),
              help="operations: start and watch any run; finance: start and watch invoice"
                   " jobs; compliance: search, get, export, hold, read runs.")
@click.option("--name", default="", help="Who or what the key is for.")
@INDEX
@click.pass_obj
@handle_errors
def create(app: App, role: str, name: str, index_url: str | None) -> None:
    """Create a key; it is shown once and cannot be recovered later."""
    from factory.compliance import AuditLog
    from factory.compliance.keys import create_key

    index = _index(app, index_url)
    actor = shell_actor()
    info, token = create_key(index, Role(role), name, actor.id)
    AuditLog(index).record(actor, "keys.create", details={
        "key_id": info.key_id, "name": info.name, "role": info.role.value})
    app.err.print(f"[green]✓[/] key {info.key_id} ({esc(info.name)}, role {info.role.value})."
                  " Store it now: it is shown only once.")
    click.echo(token)


@keys.command("list")
@INDEX
@click.pass_obj
@handle_errors
def list_(app: App, index_url: str | None) -> None:
    """List keys: id, name, role, created, revoked (never the keys themselves)."""
    from factory.compliance.keys import list_keys

    table = Table("key id", "name", "role", "created (UTC)", "by", "revoked (UTC)")
    for info in list_keys(_index(app, index_url)):
        table.add_row(info.key_id, info.name, info.role.value,
                      f"{info.created_at:%Y-%m-%d %H:%M}", info.created_by,
                      f"{info.revoked_at:%Y-%m-%d %H:%M}" if info.revoked_at else "")
    app.out.print(table)


@keys.command()
@click.argument("key_id")
@INDEX
@click.pass_obj
@handle_errors
def revoke(app: App, key_id: str, index_url: str | None) -> None:
    """Revoke KEY_ID: every request with it is refused from now on."""
    from factory.compliance import AuditLog
    from factory.compliance.keys import revoke_key

    index = _index(app, index_url)
    info = revoke_key(index, key_id)
    AuditLog(index).record(shell_actor(), "keys.revoke", details={"key_id": info.key_id})
    app.out.print(f"[green]✓[/] key {info.key_id} ({esc(info.name)}) revoked")
