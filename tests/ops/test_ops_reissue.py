"""``docfactory run JOB --period P --record KEY``: one customer's document, reissued as a new
revision with --force --reason, the others untouched; an unknown key is a clear error."""

from __future__ import annotations

from typing import TYPE_CHECKING

from click.testing import CliRunner

from factory.cli.app import cli, load_commands

if TYPE_CHECKING:
    from tests.archive_fixtures import Built


def test_reissue_one_record(archive: Built, monkeypatch) -> None:
    for name, value in archive.env().items():
        monkeypatch.setenv(name, value)
    load_commands()
    job = str(archive.jobs / "monthly_statements.toml")
    before = {e.record_key: e.revision for e in archive.entries(job="monthly_statements",
                                                                 period="2026-11")}
    key = sorted(before)[1]
    base = ["run", job, "--period", "2026-11", "--executor", "inline", "--record", key]
    same = CliRunner().invoke(cli, base)
    assert same.exit_code == 0, same.output
    assert "input 1 = archived 0 + rejected 0 + failed 0 + skipped 1" in same.output
    again = CliRunner().invoke(cli, [*base, "--force", "--reason", "address corrected"])
    assert again.exit_code == 0, again.output
    assert "input 1 = archived 1" in again.output
    after = {e.record_key: e.revision for e in archive.entries(job="monthly_statements",
                                                                period="2026-11")}
    assert after == {**before, key: before[key] + 1}
    unknown = CliRunner().invoke(cli, [*base[:-1], "NOPE-1"])
    assert unknown.exit_code == 2
    assert "no record with" in unknown.output and "NOPE-1" in unknown.output
