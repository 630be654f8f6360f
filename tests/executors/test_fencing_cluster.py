"""A dead coordinator's tasks cannot overwrite the rerun's documents (issue 11, fencing).

The scenario, against a real Redis broker, a real PostgreSQL index and real Celery worker
processes: coordinator A runs a batch on worker W1; while W1 is in the middle of records, W1
is frozen (SIGSTOP: a stalled machine) and A is killed (kill -9). The rerun B starts at once (A's
coordinator is gone), runs on worker W2, and while it runs W1 is thawed (SIGCONT): A's stale
tasks carry on where they stopped. Before fencing they took B's claims over and overwrote the
record snapshots of documents B had indexed ("altered" in verify), and B reported records as
failed that ended archived. Now, over every round: 0 altered, 0 missing, 0 orphans, 0 false
failures, 0 lost and 0 duplicate documents.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from factory.archive import open_index, open_store
from factory.compliance.verify import verify_archive
from factory.samples.customers import generate
from tests.conftest import REPO, csv_source, write_job
from tests.fixtures_cluster import REDIS_URL, start_worker, stop_worker
from tests.support.postgres import psql

JOB = "monthly_statements"
ROUNDS = 5
CUSTOMERS = 14


def _coordinator(job: Path, var: Path, cluster: str, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "FACTORY_HOME": str(REPO), "FACTORY_VAR": str(var),
           "FACTORY_BROKER_URL": REDIS_URL, "FACTORY_CLUSTER": cluster,
           "FACTORY_CHUNK_SIZE": "2"}
    with log.open("wb") as handle:
        return subprocess.Popen(
            [sys.executable, "-m", "factory", "run", str(job), "--period", "2026-11",
             "--executor", "celery"], cwd=REPO, env=env, stdout=handle,
            stderr=subprocess.STDOUT, start_new_session=True)


def _signal_group(pid: int, sig: signal.Signals) -> None:
    os.killpg(pid, sig)


def _wait_for(condition: object, what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def test_a_stalled_dead_coordinators_tasks_never_touch_the_rerun(
        pg_database: str, cluster_name: str, tmp_path: Path) -> None:
    data = tmp_path / "data"
    generate(CUSTOMERS, data, seed=5, period="2026-11", fmt="csv")
    keys = {f"C{n:06d}" for n in range(1, CUSTOMERS + 1)}
    fresh = start_worker(f"{cluster_name}-w2", tmp_path / "w2.log", concurrency=1)
    totals = {"altered": 0, "missing": 0, "orphan": 0, "false_failures": 0, "lost": 0,
              "duplicates": 0, "stale_resumed": 0}
    try:
        for number in range(ROUNDS):
            folder = tmp_path / f"round{number}"
            schema = f"fence_{number}_{os.getpid()}"
            psql(pg_database, f'CREATE SCHEMA "{schema}"')
            index_url = f"{pg_database}?options=-csearch_path%3D{schema}"
            store_url = (folder / "archive").as_uri()
            job = write_job(folder / "jobs", source=csv_source(data / "customers.csv",
                                                               data / "transactions.csv"),
                            archive={"store": store_url, "index": index_url})
            totals_round = _one_round(folder, job, index_url, store_url, keys,
                                      f"{cluster_name}-w1-{number}", fresh.name)
            for name, value in totals_round.items():
                totals[name] += value
    finally:
        stop_worker(fresh)
    assert totals["stale_resumed"] >= ROUNDS, totals  # the stale worker did resume mid-record
    assert {k: v for k, v in totals.items() if k != "stale_resumed"} == {
        "altered": 0, "missing": 0, "orphan": 0, "false_failures": 0, "lost": 0,
        "duplicates": 0}, totals


def _one_round(folder: Path, job: Path, index_url: str, store_url: str, keys: set[str],
               stale_name: str, fresh_name: str) -> dict[str, int]:
    var = folder / "var"
    stale = start_worker(stale_name, folder / "w1.log", concurrency=1)
    index = open_index(index_url)
    try:
        first = _coordinator(job, var, stale_name, folder / "a.log")
        # A's worker is in the middle of a record (holds a claim) after a few documents.
        _wait_for(lambda: index.claims.held() >= 1 and index.documents.count(JOB, "2026-11") >= 2,
                  "run A to be in the middle of a record")
        _signal_group(stale.process.pid, signal.SIGSTOP)   # W1 stalls mid-record
        os.killpg(first.pid, signal.SIGKILL)               # A's coordinator dies
        first.wait(30)
        second = _coordinator(job, var, fresh_name, folder / "b.log")
        # Thaw W1 once B is under way, so A's tasks carry on during B's run.
        _wait_for(lambda: any(r.status == "running" and r.epoch == 2
                              for r in index.runs.recent(JOB)), "run B to start")
        time.sleep(0.5)
        _signal_group(stale.process.pid, signal.SIGCONT)
        code = second.wait(300)
        log = (folder / "b.log").read_text(errors="replace")
        assert code == 0, log
        runs = {r.run_id: r for r in index.runs.recent(JOB)}
        (rerun,) = [r for r in runs.values() if r.epoch == 2]
        (dead,) = [r for r in runs.values() if r.epoch == 1]
        assert dead.status == "abandoned" and rerun.status == "completed", runs
        report = json.loads((var / "runs" / rerun.run_id / "report.json").read_text())
        # Let A's resumed tasks finish what they were doing before looking at the archive.
        _wait_for(lambda: "succeeded" in (folder / "w1.log").read_text(errors="replace"),
                  "the stale worker's task to finish", timeout=60)
        time.sleep(1.0)
        current = list(index.documents.entries(job=JOB, period="2026-11"))
        every = list(index.documents.entries(job=JOB, period="2026-11", revisions=True))
        found = verify_archive(index, open_store(store_url), JOB).counts()
        return {
            "altered": found["altered"], "missing": found["missing"],
            "orphan": found["orphan"] + found["temp"],
            "false_failures": report["counts"]["failed"],
            "lost": len(keys - {e.record_key for e in current}),
            "duplicates": len(every) - len({e.record_key for e in every}),
            # W1 was frozen holding a claim; its task ran to its end after the thaw.
            "stale_resumed": int("succeeded" in (folder / "w1.log").read_text(errors="replace")),
        }
    finally:
        if stale.process.poll() is None:
            _signal_group(stale.process.pid, signal.SIGCONT)
        stop_worker(stale)
        index.close()
