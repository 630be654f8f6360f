"""Start-up stays light: `docfactory --help` imports no heavy module (issue 18).

A behaviour test, not a timing (timings are in `make bench`: bench/bench_startup.py): each
command line runs in a fresh interpreter, which then lists the heavy modules it imported.
`--help` imports no command module (the lazy group lists them from its table), a command imports
its own module only, and the table agrees with what the modules register.
Also: the schema head read without Alembic agrees with Alembic's.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import click
import pytest

from factory.cli.app import COMMANDS, cli, load_commands

REPO = Path(__file__).resolve().parents[2]
HEAVY = ("alembic", "weasyprint", "boto3", "botocore", "celery", "kombu", "fastapi",
         "starlette", "sqlalchemy", "pydantic", "jinja2", "pyhanko", "redis")
#: What `docfactory --help` does not need either: click formats it.
LIGHT = ("rich", "multiprocessing", "factory.config", "factory.models", "factory.archive",
         "factory.executors", "factory.observe")
#: The modules that define commands (`factory.cli.app.COMMANDS`).
COMMAND_MODULES = tuple(sorted({module for command in COMMANDS.values()
                                for module in command.modules}))
_PROBE = """
import json, sys
heavy = json.loads(sys.argv[2])
sys.argv = ["docfactory"] + json.loads(sys.argv[1])
from factory.cli import main
try:
    main()
except SystemExit:
    pass
print("IMPORTED=" + json.dumps(sorted(m for m in heavy if m in sys.modules)), file=sys.stderr)
"""


def imported(args: list[str], cwd: Path, modules: tuple[str, ...] = HEAVY) -> list[str]:
    return probe(args, cwd, modules)[0]


def probe(args: list[str], cwd: Path, modules: tuple[str, ...] = HEAVY,
          code: str = _PROBE) -> tuple[list[str], str]:
    """The modules of ``modules`` that ``docfactory ARGS`` imported, and what it printed."""
    done = subprocess.run([sys.executable, "-c", code, json.dumps(args), json.dumps(modules)],
                          cwd=cwd, capture_output=True, text=True, timeout=120, check=False)
    line = next(line for line in done.stderr.splitlines() if line.startswith("IMPORTED="))
    return json.loads(line.removeprefix("IMPORTED=")), done.stdout


@pytest.mark.parametrize("args", [["--help"], ["run", "--help"], ["archive", "--help"],
                                  ["status", "--help"]])
def test_help_imports_no_heavy_module(args: list[str], tmp_path: Path) -> None:
    assert imported(args, REPO) == []


def test_help_imports_no_command_module_nor_rich() -> None:
    assert imported(["--help"], REPO, HEAVY + LIGHT + COMMAND_MODULES) == []


@pytest.mark.parametrize(("args", "modules"), [
    (["status", "--help"], {"factory.cli.commands"}),
    (["archive", "--help"], {"factory.cli.archive", "factory.cli.reseal"}),
    (["keys", "--help"], {"factory.cli.keys", "factory.cli.archive"}),  # its INDEX option
])
def test_a_command_imports_its_own_modules_only(args: list[str], modules: set[str]) -> None:
    assert set(imported(args, REPO, COMMAND_MODULES)) == modules


def test_a_group_gets_every_module_even_when_one_was_imported_before() -> None:
    """`archive` is defined in factory.cli.archive, which other commands import; its
    ``reseal`` subcommand is in factory.cli.reseal, loaded all the same."""
    before = _PROBE.replace("from factory.cli import main\n",
                            "from factory.cli import main\nimport factory.cli.archive\n")
    assert before != _PROBE
    found, out = probe(["archive", "--help"], REPO, COMMAND_MODULES, before)
    assert "factory.cli.reseal" in found
    assert "reseal" in out.split("Commands:")[1]


def test_help_lists_the_same_commands_lazily_as_with_every_module_imported() -> None:
    """The table's help lines are the commands' own: `--help` reads the same either way."""
    loaded = _PROBE.replace("from factory.cli import main\n",
                            "from factory.cli import main\n"
                            "from factory.cli.app import load_commands\nload_commands()\n")
    assert loaded != _PROBE
    lazy_imports, lazy = probe(["--help"], REPO, COMMAND_MODULES)
    loaded_imports, eager = probe(["--help"], REPO, COMMAND_MODULES, loaded)
    assert lazy_imports == [] and set(loaded_imports) == set(COMMAND_MODULES)
    assert "Commands:" in lazy
    assert lazy == eager


def test_the_table_names_every_command_with_its_modules_and_help() -> None:
    load_commands()
    assert set(cli.commands) == set(COMMANDS)
    for name, command in cli.commands.items():
        modules = {_module(command)}
        if isinstance(command, click.Group):
            modules |= {_module(sub) for sub in command.commands.values()}
        assert set(COMMANDS[name].modules) == modules, name
        first = (command.help or "").split("\n\n")[0]
        assert COMMANDS[name].help == " ".join(first.split()), name


def _module(command: click.Command) -> str:
    callback = command.callback
    while hasattr(callback, "__wrapped__"):  # click.pass_obj, handle_errors
        callback = callback.__wrapped__
    return str(getattr(callback, "__module__", ""))


def test_an_unknown_command_is_still_a_usage_error(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "factory", "no-such-command"], cwd=REPO,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 2
    assert "No such command 'no-such-command'" in done.stderr


def test_status_imports_no_alembic_weasyprint_or_celery(tmp_path: Path) -> None:
    """`status` on an index at the schema head needs SQLAlchemy, nothing heavier."""
    from factory.archive import open_index

    url = f"sqlite:///{tmp_path / 'index.db'}"
    open_index(url).close()  # created and migrated to the head
    found = imported(["status", "--index", url, "no-such-run"], REPO, HEAVY + LIGHT)
    assert "sqlalchemy" in found  # the probe does see what a command imports
    assert not {"alembic", "weasyprint", "celery", "boto3", "fastapi", "pydantic", "jinja2",
                "multiprocessing"} & set(found)


def test_schema_head_without_alembic_agrees_with_alembic() -> None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from factory.archive.index import MIGRATIONS
    from factory.archive.schema_head import head_revision

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    assert head_revision(MIGRATIONS) == ScriptDirectory.from_config(config).get_current_head()


def test_an_index_behind_the_head_is_still_migrated(tmp_path: Path) -> None:
    """The fast path skips Alembic only at the head: an older schema is upgraded."""
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import create_engine

    from factory.archive import open_index
    from factory.archive.index import MIGRATIONS
    from factory.archive.schema_head import current_revision, head_revision

    url = f"sqlite:///{tmp_path / 'index.db'}"
    engine = create_engine(url)
    with engine.begin() as connection:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["connection"] = connection
        command.upgrade(config, "0001")
    assert current_revision(engine) == "0001"
    open_index(url).close()
    assert current_revision(engine) == head_revision(MIGRATIONS)


@pytest.mark.parametrize("module", ["factory.render.engine", "factory.render.seal",
                                    "factory.render.seal_check"])
def test_render_submodules_that_do_not_lay_out_import_no_weasyprint(module: str) -> None:
    """The coordinator's seal check and `archive verify` import these, never WeasyPrint."""
    code = ("import json, sys\nimport " + module + "\n"
            "import factory.render\n"
            "print(json.dumps('weasyprint' in sys.modules))\n"
            "factory.render.PdfRenderer  # the package still re-exports it, on first use\n"
            "print(json.dumps('weasyprint' in sys.modules))\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                          text=True, timeout=120, check=True)
    assert [json.loads(line) for line in done.stdout.split()] == [False, True]
