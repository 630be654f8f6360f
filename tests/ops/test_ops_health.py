"""Health, readiness and Prometheus metrics of ``docfactory serve``, and ``docfactory doctor``,
against real processes on loopback: the service, PostgreSQL, Redis, and a port nobody listens
on for a backend that is down."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.archive_fixtures import Server, copy_archive, make_keys, start_server
from tests.conftest import csv_source, write_job

if TYPE_CHECKING:
    from tests.archive_fixtures import Built

REDIS = "redis://127.0.0.1:6379/15"


def closed_port() -> int:
    """A loopback port nobody listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def project(golden_archive: Built, tmp_path_factory: pytest.TempPathFactory) -> Built:
    built = copy_archive(golden_archive, tmp_path_factory.mktemp("ops") / "project")
    sample = built.var / "sample"
    lines = (sample / "customers.csv").read_text(encoding="utf-8").splitlines()
    # One record more whose e-mail is not an address: rejected, with its reason.
    bad = lines[1].split(",")
    bad[0], bad[3] = "C009999", "not-an-address"
    (sample / "with_reject.csv").write_text("\n".join([*lines, ",".join(bad)]) + "\n",
                                           encoding="utf-8")
    write_job(built.jobs, "monthly_statements.toml",
              source=csv_source(sample / "with_reject.csv", sample / "transactions.csv"))
    return built


@pytest.fixture(scope="module")
def server(project: Built) -> Iterator[Server]:
    server = start_server(project, env={"FACTORY_BROKER_URL": REDIS,
                                        "FACTORY_API_AUTH_FAILURES": "100000"})
    try:
        yield server
    finally:
        assert server.stop() == 0, "\n".join(server.lines[-20:])


def test_healthz_and_readyz_answer_without_a_key_and_say_nothing_else(server: Server) -> None:
    health = httpx.get(f"{server.url}/healthz")
    assert (health.status_code, health.json()) == (200, {"status": "ok"})
    ready = httpx.get(f"{server.url}/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json() == {"status": "ready",
                            "checks": {"index": "ok", "store": "ok", "broker": "ok"}}
    assert "://" not in ready.text and "sqlite" not in ready.text


def test_readyz_is_503_when_the_broker_is_down(project: Built) -> None:
    down = f"redis://127.0.0.1:{closed_port()}/0"
    server = start_server(project, env={"FACTORY_BROKER_URL": down})
    try:
        ready = httpx.get(f"{server.url}/readyz", timeout=30)
        assert ready.status_code == 503
        assert ready.json() == {"status": "not ready",
                                "checks": {"index": "ok", "store": "ok", "broker": "down"}}
        assert str(down.split(":")[2].split("/")[0]) not in ready.text  # no URL, no port
    finally:
        assert server.stop() == 0


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[sample.name, frozenset(sample.labels.items())] = sample.value
    return found


def value(found: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str,
          **labels: str) -> float:
    return sum(v for (n, ls), v in found.items()
               if n == name and set(labels.items()) <= set(ls))


def test_metrics_after_a_real_run_equal_its_report(server: Server, project: Built) -> None:
    keys = make_keys(project)
    client = httpx.Client(base_url=server.url, timeout=60,
                          headers={"Authorization": f"Bearer {keys['operations']}"})
    started = client.post("/api/runs", json={"job": "monthly_statements", "period": "2026-12"})
    assert started.status_code == 202, started.text
    run_id = started.json()["run_id"]
    deadline = time.monotonic() + 240
    while (run := client.get(f"/api/runs/{run_id}").json())["status"] in ("starting",
                                                                           "running"):
        assert time.monotonic() < deadline, run
        time.sleep(0.5)
    report = run["report"]
    counts = report["counts"]
    assert counts["archived"] == 3 and counts["rejected"] == 1, report

    scraped = httpx.get(f"{server.url}/metrics")  # no key: Prometheus scrapes it as is
    assert scraped.status_code == 200
    found = samples(scraped.text)
    job = {"job": "monthly_statements", "document_type": "statement"}
    for outcome, name in (("read", "input"), ("rejected", "rejected"),
                          ("rendered", "rendered"), ("archived", "archived"),
                          ("skipped", "skipped"), ("failed", "failed")):
        assert value(found, "docfactory_records_total", outcome=outcome, **job) == \
            counts[name], outcome
    assert value(found, "docfactory_pages_total", **job) == counts["pages"]
    for channel, per in report["channels"].items():
        for status, count in per.items():
            assert value(found, "docfactory_channel_records_total", channel=channel,
                         status=status, **job) == count, (channel, status)
    rejected = {dict(ls)["reason"]: v for (n, ls), v in found.items()
                if n == "docfactory_record_problems_total" and ("kind", "rejected") in ls}
    assert sum(rejected.values()) == 1 and any("email" in r for r in rejected), rejected
    assert value(found, "docfactory_runs_total", job="monthly_statements",
                 status="completed") == 1
    assert value(found, "docfactory_last_success_timestamp_seconds",
                 job="monthly_statements") > time.time() - 600
    assert value(found, "docfactory_records_in_flight", job="monthly_statements") == 0
    # Rendered in the pool's worker process: seen through the multiprocess files.
    assert value(found, "docfactory_render_seconds_count", **job) == counts["archived"]
    assert value(found, "docfactory_archive_seconds_count", **job) == counts["archived"]
    assert ("docfactory_queue_depth", frozenset({("queue", "docfactory")})) in found
    client.close()


def doctor(project: Built, *args: str, env: dict[str, str] | None = None
           ) -> subprocess.CompletedProcess[str]:
    import os

    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}
    return subprocess.run([sys.executable, "-m", "factory", "doctor", *args],
                          cwd=project.root, env={**keep, **project.env(), **(env or {})},
                          capture_output=True, text=True, timeout=120, check=False)


def test_doctor_checks_a_jobs_backends_with_urls_masked(project: Built, pg_url: str,
                                                        tmp_path: Path) -> None:
    from factory.archive import open_index

    open_index(pg_url).close()  # migrated, as a first run would; doctor never migrates
    job = shutil.copy(project.jobs / "monthly_statements.toml", tmp_path / "job.toml")
    secret_pg = pg_url.replace("postgres@", "postgres:s3cret@") if "postgres@" in pg_url \
        else pg_url
    env = {"FACTORY_INDEX_URL": secret_pg, "FACTORY_BROKER_URL": REDIS}
    ok = doctor(project, str(job), "--json", env=env)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    checks = json.loads(ok.stdout)["checks"]
    assert {name: c["ok"] for name, c in checks.items()} == \
        {"index": True, "store": True, "broker": True}
    assert "s3cret" not in ok.stdout

    down = f"postgresql://postgres:s3cret@127.0.0.1:{closed_port()}/nothing"
    bad = doctor(project, str(job), env={"FACTORY_INDEX_URL": down})
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert "index" in bad.stdout and "down" in bad.stdout
    assert "s3cret" not in bad.stdout + bad.stderr and "***" in bad.stdout


def run_to_end(client: httpx.Client, period: str, limit: int | None = None) -> dict:
    body = {"job": "monthly_statements", "period": period}
    if limit is not None:
        body["limit"] = limit
    started = client.post("/api/runs", json=body)
    assert started.status_code == 202, started.text
    run_id = started.json()["run_id"]
    deadline = time.monotonic() + 240
    while (run := client.get(f"/api/runs/{run_id}").json())["status"] in ("starting",
                                                                           "running"):
        assert time.monotonic() < deadline, run
        time.sleep(0.5)
    return run


def test_run_pages_show_durations_period_totals_and_every_reject(server: Server,
                                                                  project: Built) -> None:
    import re

    keys = make_keys(project)
    api = httpx.Client(base_url=server.url, timeout=60,
                       headers={"Authorization": f"Bearer {keys['operations']}"})
    first = run_to_end(api, "2026-09", limit=2)  # the period in two runs: a partial one...
    second = run_to_end(api, "2026-09")          # ...and the rest
    assert first["report"]["counts"]["archived"] == 2
    assert second["report"]["counts"]["archived"] == 1
    api.close()

    # A scheduled job, and a firing of it the index remembers.
    from datetime import UTC, datetime

    from factory.archive import open_index
    from factory.archive.schedule import FiringLog

    sample = project.var / "sample"
    write_job(project.jobs, "scheduled.toml", name="scheduled", schedule="0 6 1 * *",
              source=csv_source(sample / "customers.csv", sample / "transactions.csv"))
    index = open_index(project.index_url)
    fired = datetime(2026, 11, 1, 6, tzinfo=UTC)
    FiringLog(index).claim("scheduled", fired, "2026-10", fired)
    FiringLog(index).settle("scheduled", fired, "skipped", note="skipped: run X is still live")
    index.close()

    web = httpx.Client(base_url=server.url, timeout=60)
    form = web.get("/login").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', form).group(1)  # type: ignore[union-attr]
    assert web.post("/login", data={"key": keys["operations"], "csrf": csrf}).status_code \
        in (200, 303)
    runs = web.get("/runs")
    assert runs.status_code == 200, runs.text
    row = re.search(r'<tr data-job="monthly_statements" data-period="2026-09">(.*?)</tr>',
                    runs.text, re.S)
    assert row is not None, runs.text
    assert re.search(r'class="runs">2<', row.group(1))
    assert re.search(r'class="archived">3<', row.group(1))
    assert re.search(r'class="duration">\d+:\d\d:\d\d<', runs.text)
    calendar = re.search(r'<table id="calendar">(.*?)</table>', runs.text, re.S)
    assert calendar is not None, runs.text
    assert re.search(r'class="upcoming"><td>[^<]+</td><td>scheduled</td>', calendar.group(1))
    assert 'data-status="skipped"' in calendar.group(1) and "still live" in calendar.group(1)
    page = web.get(f"/runs/{second['run_id']}").text
    assert "C009999" in page
    reason = json.loads((project.var / "runs" / second["run_id"] / "rejects.jsonl")
                        .read_text(encoding="utf-8").splitlines()[0])["reason"]
    import html

    assert html.escape(reason, quote=False) in page or html.escape(reason) in page
    web.close()
