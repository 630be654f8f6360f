"""Start-up stays light: `docfactory --help` imports no heavy module (issue 18).

A behaviour test, not a timing (timings are in `make bench`: bench/bench_startup.py): each
command line runs in a fresh interpreter, which then lists the heavy modules it imported.
Also: the schema head read without Alembic agrees with Alembic's.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
HEAVY = ("alembic", "weasyprint", "boto3", "botocore", "celery", "kombu", "fastapi",
         "starlette", "sqlalchemy", "pydantic", "jinja2", "pyhanko", "redis")
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


def imported(args: list[str], cwd: Path) -> list[str]:
    done = subprocess.run([sys.executable, "-c", _PROBE, json.dumps(args), json.dumps(HEAVY)],
                          cwd=cwd, capture_output=True, text=True, timeout=120, check=False)
    line = next(line for line in done.stderr.splitlines() if line.startswith("IMPORTED="))
    return json.loads(line.removeprefix("IMPORTED="))


@pytest.mark.parametrize("args", [["--help"], ["run", "--help"], ["archive", "--help"],
                                  ["status", "--help"]])
def test_help_imports_no_heavy_module(args: list[str], tmp_path: Path) -> None:
    assert imported(args, REPO) == []


def test_status_imports_no_alembic_weasyprint_or_celery(tmp_path: Path) -> None:
    """`status` on an index at the schema head needs SQLAlchemy, nothing heavier."""
    from factory.archive import open_index

    url = f"sqlite:///{tmp_path / 'index.db'}"
    open_index(url).close()  # created and migrated to the head
    found = imported(["status", "--index", url, "no-such-run"], REPO)
    assert "sqlalchemy" in found  # the probe does see what a command imports
    assert not {"alembic", "weasyprint", "celery", "boto3", "fastapi"} & set(found)


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
