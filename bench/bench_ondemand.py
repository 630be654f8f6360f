"""On-demand latency: ``POST /api/documents`` through ``docfactory serve`` on loopback.

Builds a project in var/bench/ondemand/ (the statement job, sample customers as JSON records, a
``service`` key), starts ``docfactory serve --ondemand-pool N`` and, after a warm-up, sends
requests for the reference statement (a sample customer, each request with its own
Idempotency-Key, so each renders, archives and indexes a new document) from 1 client, then from
8 concurrent clients (httpx, one connection each). Prints p50 and p95 latency in ms, the
documents/s and the CPU seconds per request of the server and its renderer processes (read
from /proc: comparable on a shared machine, where latencies are not) for each. A retried
request (same key: no rendering) is measured too.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
import tomllib
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import tomli_w  # noqa: E402

from factory.archive import open_index  # noqa: E402
from factory.compliance import Role  # noqa: E402
from factory.compliance.keys import create_key  # noqa: E402
from factory.samples.customers import generate  # noqa: E402


def build(root: Path) -> tuple[list[dict], Path]:
    shutil.rmtree(root, ignore_errors=True)
    sample = root / "var" / "sample"
    generate(20, sample, seed=42, period="2026-11", fmt="jsonl")
    records = [json.loads(line) for line in
               (sample / "customers.jsonl").read_text(encoding="utf-8").splitlines()]
    job = tomllib.loads((REPO / "jobs" / "monthly_statements.toml").read_text(encoding="utf-8"))
    job["source"] = {"type": "jsonl", "path": str(sample / "customers.jsonl")}
    (root / "jobs").mkdir(parents=True)
    (root / "jobs" / "monthly_statements.toml").write_text(tomli_w.dumps(job), encoding="utf-8")
    return records, root / "jobs"


def tree_cpu(root_pid: int) -> float:
    """CPU seconds (user + system) of ``root_pid`` and every live descendant (Linux /proc)."""
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid = int(stat.parent.name)
        parents[pid] = int(fields[1])
        times[pid] = (int(fields[11]) + int(fields[12])) / tick
    tree, grew = {root_pid}, True
    while grew:
        more = {pid for pid, parent in parents.items() if parent in tree} - tree
        grew = bool(more)
        tree |= more
    return sum(times.get(pid, 0.0) for pid in tree)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=24, help="per client count")
    parser.add_argument("--pool", type=int, default=2, help="--ondemand-pool of the server")
    args = parser.parse_args()
    import httpx

    root = REPO / "var" / "bench" / "ondemand"
    records, jobs = build(root)
    env = {**os.environ, "FACTORY_HOME": str(REPO), "FACTORY_VAR": str(root / "var"),
           "FACTORY_WORKERS": "1"}
    index = open_index(f"sqlite:///{root / 'var' / 'index.db'}")
    _info, key = create_key(index, Role.SERVICE, "bench", "bench")
    index.close()
    server = subprocess.Popen([sys.executable, "-m", "factory", "serve", "--port", "0",
                               "--jobs", str(jobs), "--ondemand-pool", str(args.pool)],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                              text=True)
    try:
        assert server.stdout is not None
        line = server.stdout.readline()
        url = line.split("serving on ", 1)[1].split("/ ", 1)[0]
        server.stdout.close()
        reference = records[0]  # the reference statement: one sample customer

        def one(client: httpx.Client, idem: str) -> float:
            started = time.perf_counter()
            answer = client.post("/api/documents", headers={"Idempotency-Key": idem},
                                 json={"job": "monthly_statements", "record": reference})
            elapsed = time.perf_counter() - started
            if answer.status_code not in (200, 201):
                raise SystemExit(f"POST /api/documents: {answer.status_code} {answer.text}")
            return elapsed

        headers = {"Authorization": f"Bearer {key}"}
        with httpx.Client(base_url=url, headers=headers, timeout=120) as client:
            for _ in range(3):
                one(client, uuid.uuid4().hex)  # warm: the first request builds the workers
            cpu = tree_cpu(server.pid)
            started = time.perf_counter()
            single = [one(client, uuid.uuid4().hex) for _ in range(args.requests)]
            single_wall = time.perf_counter() - started
            single_cpu = tree_cpu(server.pid) - cpu
            retried = [one(client, "same-key") for _ in range(args.requests)]
        print(f"on demand: load average before the figures {os.getloadavg()[0]:.1f}"
              f" ({os.cpu_count()} cores)")
        report("1 client", single, single_wall, single_cpu)

        results: list[float] = []
        lock = threading.Lock()

        def client_loop() -> None:
            with httpx.Client(base_url=url, headers=headers, timeout=300) as client:
                mine = [one(client, uuid.uuid4().hex) for _ in range(args.requests // 2)]
            with lock:
                results.extend(mine)

        threads = [threading.Thread(target=client_loop) for _ in range(8)]
        cpu = tree_cpu(server.pid)
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = time.perf_counter() - started
        report(f"8 clients (pool {args.pool})", results, wall, tree_cpu(server.pid) - cpu)
        print(f"on demand, retried request (same Idempotency-Key): p50"
              f" {percentile(retried, 0.5) * 1000:.0f} ms")
    finally:
        server.terminate()
        server.wait(60)


def report(label: str, values: list[float], wall: float, cpu: float) -> None:
    """``cpu``: CPU seconds of the server and its renderers over the ``wall`` seconds the
    requests took; cpu / wall is how many cores they kept busy."""
    print(f"on demand, {label}: p50 {percentile(values, 0.5) * 1000:.0f} ms, p95"
          f" {percentile(values, 0.95) * 1000:.0f} ms, mean"
          f" {statistics.fmean(values) * 1000:.0f} ms, {len(values) / wall:.1f} documents/s"
          f" ({len(values)} requests), server CPU {cpu / len(values) * 1000:.0f} ms per"
          f" request, {cpu / wall:.2f} cores busy, load {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
