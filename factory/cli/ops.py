"""Operations commands: ``docfactory doctor JOB``.

Takes a job file and the environment (``FACTORY_INDEX_URL``, ``FACTORY_ARCHIVE_URL``,
``FACTORY_BROKER_URL``); gives the same checks ``/readyz`` runs, for the backends this job
would use, with their URLs masked (`factory.urls.mask_url`) and the error when one is down.
Exit 0 when every backend answers, 1 when one does not.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from factory.cli.app import EXIT_PROBLEMS, App, cli, handle_errors
from factory.cli.output import esc


@cli.command()
@click.argument("job", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--broker", default=None, metavar="URL", envvar="FACTORY_BROKER_URL",
              help="Also check this broker (default: $FACTORY_BROKER_URL).")
@click.option("--json", "as_json", is_flag=True, help="The checks as JSON.")
@click.pass_obj
@handle_errors
def doctor(app: App, job: Path, broker: str | None, as_json: bool) -> None:
    """Check that the index, the store and the broker JOB uses answer."""
    from factory.jobs import load_job
    from factory.ops.health import backend_checks, describe
    from factory.runner.run import archive_urls

    spec = load_job(job)
    settings = app.settings()
    store_url, index_url = archive_urls(spec, settings)
    checks = backend_checks(index_url, store_url, broker or os.environ.get("FACTORY_BROKER_URL"))
    healthy = all(check.ok for check in checks)
    if as_json:
        app.out.print_json(json.dumps({"job": spec.name, "ok": healthy,
                                       "checks": describe(checks)}))
    else:
        for check in checks:
            state = "[green]ok[/]" if check.ok else "[red]down[/]"
            app.out.print(f"{check.name:<7} {state:<16} {esc(check.target)}  {esc(check.detail)}",
                          soft_wrap=True)
    if not healthy:
        sys.exit(EXIT_PROBLEMS)
