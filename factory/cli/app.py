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
from typing import Any, TypeVar

import click
from rich.console import Console

from factory.cli.output import esc
from factory.config import Settings, load_settings
from factory.errors import ConfigError, FactoryError
from factory.urls import mask_urls_in

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE, EXIT_FAILED, EXIT_INTERRUPTED = 0, 1, 2, 3, 130

F = TypeVar("F", bound=Callable[..., Any])


class App:
    """What every command gets: settings and two consoles."""

    def __init__(self, home: Path | None, quiet: bool) -> None:
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
            app.err.print(f"[red]error:[/] {esc(mask_urls_in(str(exc)))}", soft_wrap=True)
            sys.exit(EXIT_USAGE)
        except KeyboardInterrupt:
            app.err.print("[yellow]interrupted[/]")
            sys.exit(EXIT_INTERRUPTED)

    return wrapper  # type: ignore[return-value]


def _sigterm_as_interrupt(_signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
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


#: Modules that register commands on `cli` when imported (one per area).
COMMAND_MODULES = [
    "factory.cli.commands",
    "factory.cli.printing",
    "factory.cli.invoicing",
    "factory.cli.invoices",
    "factory.cli.templates",
    "factory.cli.archive",
    "factory.cli.reseal",
    "factory.cli.keys",
    "factory.cli.audit",
    "factory.cli.serve",
    "factory.cli.cluster",
    "factory.cli.ops",
    "factory.cli.schedule",
    "factory.cli.ondemand",
]


def load_commands() -> None:
    import importlib

    for name in COMMAND_MODULES:
        importlib.import_module(name)


def main() -> None:
    load_commands()
    cli(prog_name="docfactory")
