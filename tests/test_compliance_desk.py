"""The compliance desk's finer points: ``archive get -o`` never overwrites a file, typed search
filters (invoice number, customer name, account, date range), and ``/api/audit``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from click.testing import CliRunner

from factory.cli.app import cli, load_commands

if TYPE_CHECKING:
    from tests.archive_fixtures import Built

load_commands()


def invoke(built: Built, *args: str):
    return CliRunner().invoke(cli, list(args), env=built.env(), catch_exceptions=False)


def test_get_refuses_to_overwrite_an_existing_file(shared_archive: Built, tmp_path: Path) -> None:
    entry = shared_archive.entries()[0]
    target = tmp_path / "mine.pdf"
    target.write_bytes(b"my own work, not an archived document")
    result = invoke(shared_archive, "archive", "get", entry.document_id, "-o", str(target))
    assert result.exit_code == 2, result.output
    assert "exists already" in result.output and str(target) in result.output.replace("\n", "")
    assert target.read_bytes() == b"my own work, not an archived document"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine.pdf"]
