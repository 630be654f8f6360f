"""A click group whose commands are imported only when they run (issue 18: start fast).

Takes a table of command name -> `LazyCommand` (the modules that define it and its one-line
help); gives `LazyGroup`, which imports a command's modules the first time click asks for that
command, and writes ``docfactory --help`` from the table without importing any of them.

The table is the shape pip uses for its commands (``commands_dict``: module, class, summary);
click has no lazy group of its own (its docs show this same ``get_command`` override).
tests/cli/test_startup.py checks that the table names every command the modules register,
with their modules, and that ``--help`` reads the same with the table as with every module
imported.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any, NamedTuple

import click


class LazyCommand(NamedTuple):
    """Where a command is defined (a group: with the modules that add subcommands to it), and
    the first paragraph of its help, as ``--help`` lists it."""

    modules: tuple[str, ...]
    help: str


class LazyGroup(click.Group):
    """A `click.Group` that imports the modules of ``lazy[name]`` when ``name`` is looked up."""

    def __init__(self, *args: Any, lazy: Mapping[str, LazyCommand] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy: dict[str, LazyCommand] = dict(lazy or {})
        # Names whose modules were all imported: a group that another module's import
        # registered (keys imports factory.cli.archive) still needs the rest of its modules.
        self._loaded: set[str] = set()

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(self.commands) | set(self.lazy))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy and cmd_name not in self._loaded:
            self.load(cmd_name)
        return self.commands.get(cmd_name)

    def load(self, name: str | None = None) -> None:
        """Import the modules of command ``name`` (they register it on this group), or of
        every command."""
        names = [name] if name is not None else list(self.lazy)
        for each in names:
            for module in self.lazy[each].modules:
                importlib.import_module(module)
            self._loaded.add(each)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """As `click.Group.format_commands`, with a command not imported yet standing in as a
        bare `click.Command` holding the table's help: the same line, no import."""
        commands: list[tuple[str, click.Command]] = []
        for name in self.list_commands(ctx):
            command = self.commands.get(name)
            if command is None:
                command = click.Command(name, help=self.lazy[name].help)
            if not command.hidden:
                commands.append((name, command))
        if commands:
            limit = formatter.width - 6 - max(len(name) for name, _command in commands)
            rows = [(name, command.get_short_help_str(limit)) for name, command in commands]
            with formatter.section("Commands"):
                formatter.write_dl(rows)
