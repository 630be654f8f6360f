"""The scheduler with a controllable clock and a real index (SQLite and PostgreSQL): a month
of firings gives exactly one run per period, after a restart and beside a second scheduler
too; a firing while its job and period is live is skipped with a note; and ``docfactory
scheduler --once`` fires a real run that ``docfactory calendar`` then lists with its run id."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from factory.archive import open_index
from factory.archive.schedule import FiringLog
from factory.errors import ConfigError
from factory.jobs import load_job
from factory.jobs.schedule import ScheduleSpec, period_for
from factory.ops.scheduler import Scheduler, upcoming
from tests.conftest import REPO, csv_source, write_job


class FakeClock:
    def __init__(self, now: datetime) -> None:
        self.moment = now

    def now(self) -> datetime:
        return self.moment

    def sleep(self, seconds: float) -> None:
        self.moment += timedelta(seconds=seconds)


class Recorder:
    def __init__(self) -> None:
        self.runs: list[tuple[str, str, str]] = []

    def __call__(self, job: Any, period: str, run_id: str) -> None:
        self.runs.append((job.name, period, run_id))


def scheduled_job(folder: Path, sample_dir: Path, schedule: Any, name: str = "daily") -> Any:
    return load_job(write_job(folder, f"{name}.toml", name=name, schedule=schedule,
                              source=csv_source(sample_dir / "customers.csv",
                                                sample_dir / "transactions.csv")))


def ids() -> Any:
    count = iter(range(1, 10_000))
    return lambda moment: f"{moment:%Y%m%dT%H%M%SZ}-{next(count):06x}"


def test_a_month_of_firings_is_one_run_per_period_across_restarts(
        index_url: str, tmp_path: Path, sample_dir: Path) -> None:
    job = scheduled_job(tmp_path / "jobs", sample_dir,
                        {"cron": "0 6 * * *", "timezone": "Europe/Prague",
                         "period": "previous-day"})
    index = open_index(index_url)
    start = Recorder()
    clock = FakeClock(datetime(2026, 11, 1, tzinfo=UTC))
    first = Scheduler([job], index, start, clock, new_run_id=ids())
    second = Scheduler([job], index, start, clock, new_run_id=ids())  # on another machine
    while clock.now() < datetime(2026, 11, 20, 12, tzinfo=UTC):
        first.tick()
        second.tick()
        clock.sleep(3600)
    # Down from 20 November noon; restarted on 1 December at 07:00 Prague (06:00 UTC).
    clock.moment = datetime(2026, 12, 1, 6, tzinfo=UTC)
    restarted = Scheduler([job], index, start, clock, new_run_id=ids())
    restarted.tick()
    restarted.tick()
    Scheduler([job], index, start, clock, new_run_id=ids()).tick()
    periods = [period for _, period, _ in start.runs]
    expected = ["2026-10-31", *(f"2026-11-{day:02d}" for day in range(1, 31))]
    assert periods == expected
    assert len({run_id for *_, run_id in start.runs}) == len(expected)
    firings = FiringLog(index).list(job="daily", limit=100)
    assert len(firings) == 31 and {f["status"] for f in firings} == {"started"}
    # 06:00 Prague is 05:00 UTC in winter.
    assert {f["fired_at"].astimezone(UTC).hour for f in firings} == {5}
    index.close()


def test_a_firing_while_the_period_is_live_is_skipped_with_a_note(
        tmp_path: Path, sample_dir: Path) -> None:
    job = scheduled_job(tmp_path / "jobs", sample_dir, "0 6 1 * *", name="monthly")
    index = open_index(f"sqlite:///{tmp_path / 'index.db'}")
    index.runs.start_run("20261201T055900Z-aaaaaa", "monthly", "2026-11", executor="inline",
                         workers=1, template_version="v", dry_run=False, owner="test:1")
    clock = FakeClock(datetime(2026, 12, 1, 6, 0, 30, tzinfo=UTC))
    start = Recorder()
    done = Scheduler([job], index, start, clock,
                     baseline=datetime(2026, 11, 30, tzinfo=UTC)).tick()
    assert start.runs == []
    assert [d["status"] for d in done] == ["skipped"]
    (firing,) = FiringLog(index).list()
    assert firing["status"] == "skipped" and firing["period"] == "2026-11"
    assert "20261201T055900Z-aaaaaa" in firing["note"] and "still live" in firing["note"]
    index.close()


def test_schedule_rules_and_bad_schedules(tmp_path: Path, sample_dir: Path) -> None:
    spec = ScheduleSpec.model_validate({"cron": "0 6 1 * *", "timezone": "Europe/Prague"})
    # 1 January 06:00 Prague is 31 December 05:00 UTC: still the previous month there.
    fired = datetime(2026, 1, 1, 5, tzinfo=UTC)
    assert period_for(spec, fired) == "2025-12"
    assert [f.period for f in upcoming("j", spec, datetime(2026, 11, 15, tzinfo=UTC), 3)] == \
        ["2026-11", "2026-12", "2027-01"]
    for bad, words in (("0 6 1 *", "5 fields"), ("0 25 1 * *", "not a valid cron"),
                       ({"cron": "0 6 1 * *", "timezone": "Mars/Olympus"}, "time zone"),
                       ({"cron": "0 6 1 * *", "period": "last-week"}, "period")):
        with pytest.raises(ConfigError) as caught:
            scheduled_job(tmp_path / "bad", sample_dir, bad, name="bad")
        assert words in str(caught.value) and "schedule" in str(caught.value)


def cli(*args: str, var: Path) -> subprocess.CompletedProcess[str]:
    env = {**{k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")},
           "FACTORY_HOME": str(REPO), "FACTORY_VAR": str(var), "FACTORY_WORKERS": "1"}
    return subprocess.run([sys.executable, "-m", "factory", "--log-format", "json", *args],
                          env=env, capture_output=True, text=True, timeout=300, check=False)


def test_the_scheduler_fires_a_real_run_and_the_calendar_lists_it(
        tmp_path: Path, sample_dir: Path) -> None:
    scheduled_job(tmp_path / "jobs", sample_dir, "0 6 1 * *", name="monthly")
    var = tmp_path / "var"
    args = ("scheduler", "--jobs", str(tmp_path / "jobs"), "--once", "--executor", "inline",
            "--catch-up-from", "2026-11-15T00:00:00Z")
    fired = cli(*args, var=var)
    assert fired.returncode == 0, fired.stderr
    (line,) = [json.loads(text) for text in fired.stdout.splitlines()]
    assert (line["job"], line["period"], line["status"]) == ("monthly", "2026-11", "started")
    again = cli(*args, var=var)
    assert again.returncode == 0 and again.stdout == "", again.stdout + again.stderr

    index = open_index(f"sqlite:///{var / 'index.db'}")
    run = index.runs.get(line["run_id"])
    index.close()
    assert run is not None and run.status == "completed"
    assert run.report["counts"]["archived"] > 0

    shown = cli("calendar", "--jobs", str(tmp_path / "jobs"), "--json", var=var)
    assert shown.returncode == 0, shown.stderr
    calendar = json.loads(shown.stdout)
    assert [(p["job"], p["period"], p["status"], p["run_id"]) for p in calendar["past"]] == \
        [("monthly", "2026-11", "started", line["run_id"])]
    assert len(calendar["upcoming"]) == 3 and calendar["upcoming"][0]["job"] == "monthly"
