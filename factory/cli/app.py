"""The command-line edge: the click group, settings from the environment, error handling.

Takes argv and the environment; gives exit codes and console output. This is one of the only
places that reads ``os.environ``, prints, or turns an exception into a message:

    0  done: every record archived or skipped (or a check passed)
    1  done, with rejected or failed records; see the run's rejects/failures files
    2  nothing ran: a usage, job-file, template, source or configuration error
    3  the run failed part-way, or its counts do not balance
    130 interrupted (Ctrl-C or SIGTERM); run the same command again to resume
"""

from __future__ import annotations

import functools
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from factory.cli.lazy import LazyCommand, LazyGroup
from factory.errors import ConfigError, FactoryError
from factory.urls import mask_urls_in

if TYPE_CHECKING:
    from factory.config import Settings

# rich, the settings and every command module are imported when a command runs, not at
# start-up: `docfactory --help` imports click and this package only (tests/cli/test_startup.py).

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE, EXIT_FAILED, EXIT_INTERRUPTED = 0, 1, 2, 3, 130

F = TypeVar("F", bound=Callable[..., Any])


class App:
    """What every command gets: settings and two consoles."""

    def __init__(self, home: Path | None, quiet: bool) -> None:
        from rich.console import Console

        self.home = home
        self.quiet = quiet
        # Off a terminal, rich would wrap at 80 columns; logs read better unwrapped.
        # emoji=False: a path or a record holding ``:x:`` (root:x:0:0) is printed as written.
        self.out = Console(highlight=False, emoji=False,
                           width=None if sys.stdout.isatty() else 200)
        self.err = Console(stderr=True, highlight=False, emoji=False,
                           width=None if sys.stderr.isatty() else 200)
        self._settings: Settings | None = None
        self.log_format: str = "auto"  # set by the group's options
        self.log_level: str | None = None

    def service_logs(self) -> None:
        """Long-running commands log at info unless --log-level said otherwise."""
        if self.log_level is None:
            from factory.observe.logs import configure

            configure(self.log_format, "info")

    def settings(self, **overrides: Any) -> Settings:
        from factory.config import load_settings

        if self._settings is None or overrides:
            self._settings = load_settings(self.home, os.environ, **overrides)
        return self._settings

    def open_index(self, index_url: str | None = None, *, existing: bool = False) -> Any:
        """The archive index (`SqlIndex`): ``index_url``, else FACTORY_INDEX_URL, else the
        project's var/index.db; migrated to this code's schema. ``existing``: for commands
        that only read, a SQLite index that is not there is an error, not a new empty one."""
        from factory.archive import open_index, sqlite_file

        settings = self.settings(index_url=index_url)
        url = settings.index_url or settings.default_index_url
        if existing:
            database = sqlite_file(url)
            if database is not None and not database.exists():
                raise ConfigError(f"no index at {database}: run from the project"
                                  " folder, or pass --home or --index")
        return open_index(url)


def handle_errors(function: F) -> F:
    """Turn our errors into a message and exit code 2; let bugs show their traceback."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        app: App = click.get_current_context().obj
        try:
            return function(*args, **kwargs)
        except FactoryError as exc:  # ConfigError included
            from factory.cli.output import esc

            app.err.print(f"[red]error:[/] {esc(mask_urls_in(str(exc)))}", soft_wrap=True)
            sys.exit(EXIT_USAGE)
        except KeyboardInterrupt:
            app.err.print("[yellow]interrupted[/]")
            sys.exit(EXIT_INTERRUPTED)

    return wrapper  # type: ignore[return-value]


def _sigterm_as_interrupt(_signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt


#: Every command of `cli`: the modules that define it (and add subcommands to it), imported
#: when it runs, and the first paragraph of its help, for `docfactory --help`.
COMMANDS: dict[str, LazyCommand] = {
    "archive": LazyCommand(("factory.cli.archive", "factory.cli.reseal"),
                           "Find, prove, retrieve and export archived documents (every"
                           " retrieval is audited)."),
    "audit": LazyCommand(("factory.cli.audit",), "The append-only, hash-chained audit log of"
                         " retrievals, exports, holds and runs."),
    "calendar": LazyCommand(("factory.cli.schedule",), "List the upcoming firings of scheduled"
                            " jobs and the past ones with their run ids."),
    "doctor": LazyCommand(("factory.cli.ops",), "Check that the index, the store and the"
                          " broker JOB uses answer."),
    "fallbacks": LazyCommand(("factory.cli.ondemand",), "Send, once, over the next channel of"
                             " their route the messages of JOB refused later (DSNs in"
                             " --mailbox, SMS delivery reports): idempotent, run it as often"
                             " as you like."),
    "index": LazyCommand(("factory.cli.commands",), "The index database: its schema."),
    "invoices": LazyCommand(("factory.cli.invoices",), "The invoice register and a search by"
                            " invoice number."),
    "keys": LazyCommand(("factory.cli.keys",), "API keys for `docfactory serve`: each key has"
                        " one role."),
    "preview": LazyCommand(("factory.cli.commands",), "Render one record of JOB for proofing;"
                           " nothing is archived."),
    "print": LazyCommand(("factory.cli.printing",), "(Re)build JOB's print files for a period"
                         " from its archived documents."),
    "proof": LazyCommand(("factory.cli.templates",), "Render JOB's proof records with the"
                         " current templates and with REF; compare and check."),
    "render": LazyCommand(("factory.cli.ondemand",), "Render, archive, index and deliver one"
                          " record of JOB now (an on-demand document)."),
    "run": LazyCommand(("factory.cli.commands",), "Run JOB for a period: render, archive,"
                       " deliver and index every record."),
    "runs": LazyCommand(("factory.cli.commands",), "List recent runs with durations and rates;"
                        " --period: that period's totals."),
    "sample-data": LazyCommand(("factory.cli.commands",), "Generate realistic customers (5-80"
                               " transactions each, five locales)."),
    "sample-invoices": LazyCommand(("factory.cli.invoicing",), "Generate invoices and credit"
                                   " notes (1-8 lines, several VAT rates, CZK and EUR)."),
    "scheduler": LazyCommand(("factory.cli.schedule",), "Run the jobs' calendars: start each"
                             " job's run when its schedule fires."),
    "serve": LazyCommand(("factory.cli.serve",), "Serve the HTTP API (/api, OpenAPI at"
                         " /api/openapi.json) and the web pages."),
    "status": LazyCommand(("factory.cli.commands",), "Show a run's status and counts, from the"
                          " index (works from any machine)."),
    "templates": LazyCommand(("factory.cli.templates",), "Template-set versions: which were"
                             " used and approved; approve the current one."),
    "validate": LazyCommand(("factory.cli.commands",), "Check JOB, its template set, brand,"
                            " translations and data before running it."),
    "worker": LazyCommand(("factory.cli.cluster",), "Start a Celery worker that renders,"
                          " archives and indexes records of cluster runs."),
}


@click.group(cls=LazyGroup, lazy=COMMANDS,
             context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--home", type=click.Path(file_okay=False, path_type=Path), default=None,
              envvar="FACTORY_HOME", help="Project root (holds templates/, assets/, var/).")
@click.option("-q", "--quiet", is_flag=True, help="No progress output.")
@click.option("--log-format", type=click.Choice(["auto", "json", "text"]), default="auto",
              envvar="FACTORY_LOG_FORMAT", show_default=True,
              help="Log lines on standard error: auto is JSON when it is not a terminal.")
@click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"]),
              default=None, envvar="FACTORY_LOG_LEVEL",
              help="Log level (default: warning; worker, serve, scheduler: info).")
@click.version_option(package_name="docfactory")
@click.pass_context
def cli(ctx: click.Context, home: Path | None, quiet: bool, log_format: str,
        log_level: str | None) -> None:
    """docfactory: customer records in; branded, archived and indexed documents out."""
    from factory.observe.logs import configure

    ctx.obj = App(home, quiet)
    ctx.obj.log_format, ctx.obj.log_level = log_format, log_level
    # Exported to worker processes only when asked for: a default must not leak into the
    # environment of the processes a library caller (or a test) starts later.
    configure(log_format, log_level or "warning",
              export=log_format != "auto" or log_level is not None)
    if threading_main():
        signal.signal(signal.SIGTERM, _sigterm_as_interrupt)


def threading_main() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def load_commands() -> None:
    """Import every command module (for callers that use `cli.commands` directly)."""
    assert isinstance(cli, LazyGroup)
    cli.load()


def main() -> None:
    cli(prog_name="docfactory")
