"""``docfactory runs --json / --period`` and the per-period totals: a period resumed over
several runs is one period (archived summed, input and rejects from the newest run)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from click.testing import CliRunner

from factory.cli.app import cli, load_commands
from factory.ops.runs import hms, period_totals, run_row

if TYPE_CHECKING:
    from tests.archive_fixtures import Built


def test_runs_json_and_period_totals_from_the_cli(archive: Built, monkeypatch) -> None:
    for name, value in archive.env().items():
        monkeypatch.setenv(name, value)
    load_commands()
    result = CliRunner().invoke(cli, ["runs", "--json", "--period", "2026-11",
                                      "--job", "monthly_statements"])
    assert result.exit_code == 0, result.output
    shown = json.loads(result.output)
    (run,) = shown["runs"]
    assert run["period"] == "2026-11" and run["duration_seconds"] > 0
    assert run["docs_per_second"] > 0 and run["counts"]["archived"] == 3
    (total,) = shown["periods"]
    assert (total["job"], total["period"], total["archived"], total["runs"]) == \
        ("monthly_statements", "2026-11", 3, [run["run_id"]])
    table = CliRunner().invoke(cli, ["runs"])
    assert table.exit_code == 0 and "duration" in table.output and "docs/s" in table.output


def test_a_period_over_three_runs_is_one_total() -> None:
    start = datetime(2026, 12, 1, 6, tzinfo=UTC)

    def run(n: int, status: str, archived: int, skipped: int, pending: int) -> dict:
        return {"run_id": f"r{n}", "job": "j", "period": "2026-11", "status": status,
                "started_at": start + timedelta(hours=n),
                "finished_at": start + timedelta(hours=n, minutes=10),
                "report": {"counts": {"input": 100, "rejected": 2, "archived": archived,
                                      "skipped": skipped, "failed": 0, "pending": pending,
                                      "pages": archived * 2, "rendered": archived}}}

    runs = [run(3, "completed", 18, 80, 0), run(1, "interrupted", 50, 0, 48),
            run(2, "interrupted", 30, 50, 18)]
    (total,) = period_totals(runs)
    assert total["runs"] == ["r1", "r2", "r3"] and total["status"] == "completed"
    assert (total["archived"], total["pages"], total["input"], total["rejected"],
            total["not_processed"]) == (98, 196, 100, 2, 0)
    assert total["duration_seconds"] == 1800 and hms(total["duration_seconds"]) == "0:30:00"
    assert run_row(runs[0])["docs_per_second"] == 0.03
