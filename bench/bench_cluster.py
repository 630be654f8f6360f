"""`make bench` (cluster part): the reference workload through Celery beside the local pool, and
S3 archive puts per second to a loopback S3 server.

Reference workload: `factory.samples.customers.generate(200, ..., seed=2026)`, period 2026-11,
rendered by jobs/monthly_statements.toml (PDF/A-3b, tagged), as in bench/bench.py.

Prints, and writes to var/bench/cluster.json:
  1. the local pool with 2 worker processes: docs/s over the run's elapsed time (its report);
  2. Celery with one `docfactory worker --concurrency 2` over the local Redis (a unique cluster
     name, so other users of that Redis are not disturbed), the same job, same archive and index
     kinds (file store, SQLite): docs/s over the run's elapsed time; target >= 0.9 x the pool;
  3. S3Store.put of statement-sized objects (40 KiB, SHA-256 sent, verified by the store) to
     moto's standalone S3 server on a free loopback port: puts/s from 1 thread (one worker
     process' sequential writes) and from 4 threads (several worker processes); target >= 200.
Pool and Celery are measured ``--rounds`` times (default 2) in alternating order; the best
round of each is reported, as in bench/bench.py (noise only ever slows a run down).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from factory.samples.customers import generate  # noqa: E402

_spec = importlib.util.spec_from_file_location("bench_reference", REPO / "bench" / "bench.py")
assert _spec is not None and _spec.loader is not None
_reference = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_reference)
WORK, _job_for = _reference.WORK, _reference._job_for

BROKER = os.environ.get("FACTORY_BROKER_URL", "redis://127.0.0.1:6379/0")


def run_factory(executor: str, data: Path, var: Path, env: dict[str, str]) -> dict:
    shutil.rmtree(var, ignore_errors=True)
    job = _job_for(data, var, True)
    command = [sys.executable, "-m", "factory", "-q", "run", str(job), "--period", "2026-11",
               "--workers", "2", "--issued", "2026-12-01", "--executor", executor]
    full_env = {**os.environ, "FACTORY_HOME": str(REPO), "FACTORY_VAR": str(var), **env}
    done = subprocess.run(command, env=full_env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{executor} run failed ({done.returncode}):\n{done.stdout}\n"
                         f"{done.stderr}")
    report = json.loads(next((var / "runs").iterdir()).joinpath("report.json").read_text())
    counts = report["counts"]
    return {"docs_per_s": counts["rendered"] / report["elapsed_seconds"],
            "pages_per_s": counts["pages"] / report["elapsed_seconds"],
            "seconds": report["elapsed_seconds"], "archived": counts["archived"],
            "workers": report["workers"]}


def start_worker(name: str, log: Path) -> subprocess.Popen:  # type: ignore[type-arg]
    env = {**os.environ, "FACTORY_HOME": str(REPO), "FACTORY_BROKER_URL": BROKER,
           "FACTORY_CLUSTER": name}
    with log.open("wb") as handle:
        process = subprocess.Popen(
            [sys.executable, "-m", "factory", "worker", "--concurrency", "2",
             "--loglevel", "warning"], env=env, stdout=handle, stderr=subprocess.STDOUT,
            start_new_session=True)
    from factory.executors.celery import CeleryExecutor
    from factory.executors.cluster import ClusterOptions

    executor = CeleryExecutor(ClusterOptions(BROKER, name))
    deadline = time.monotonic() + 120
    while True:
        try:
            if executor.connect() >= 2:
                break
        except Exception:
            if time.monotonic() > deadline or process.poll() is not None:
                raise SystemExit(f"the Celery worker did not start:\n{log.read_text()}") \
                    from None
        time.sleep(0.5)
    executor.close()
    return process


def stop(process: subprocess.Popen) -> None:  # type: ignore[type-arg]
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def clean_redis(name: str) -> None:
    import redis

    client = redis.Redis.from_url(BROKER)
    keys = list(client.scan_iter(match=f"{name}*", count=500))
    if keys:
        client.delete(*keys)
    client.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def s3_puts(count: int) -> dict:
    """Puts/s through S3Store to moto's standalone server (its own process) on loopback."""
    port = free_port()
    server = subprocess.Popen([str(Path(sys.executable).with_name("moto_server")), "-H",
                               "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    os.environ.update({"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
                       "AWS_DEFAULT_REGION": "us-east-1"})
    try:
        import boto3

        endpoint = f"http://127.0.0.1:{port}"
        client = boto3.client("s3", endpoint_url=endpoint)
        deadline = time.monotonic() + 30
        while True:
            try:
                client.create_bucket(Bucket="bench-archive", ObjectLockEnabledForBucket=True)
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        from datetime import UTC, datetime, timedelta

        from factory.archive.s3 import S3Store
        from factory.archive.store import sha256_of

        store = S3Store(f"s3://bench-archive/docs?endpoint_url={endpoint}")
        data = os.urandom(40 * 1024)
        digest = sha256_of(data)
        until = datetime.now(UTC) + timedelta(days=3650)
        results = {}
        for threads in (1, 4):
            def put(number: int, threads: int = threads) -> None:
                store.put(f"bench/{threads}/{number:06d}.pdf", data,
                          media_type="application/pdf", sha256=digest, retain_until=until)

            put(-1)  # connection and bucket warm
            started = time.perf_counter()
            with ThreadPoolExecutor(threads) as pool:
                list(pool.map(put, range(count)))
            elapsed = time.perf_counter() - started
            results[f"threads_{threads}"] = {"puts_per_s": count / elapsed, "seconds": elapsed}
        return results
    finally:
        server.terminate()
        server.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--customers", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--puts", type=int, default=1000)
    args = parser.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    data = WORK / f"data-{args.customers}"
    if not (data / "customers.csv").exists():
        generate(args.customers, data, seed=2026, period="2026-11", fmt="csv")

    name = f"bench-{os.getpid()}-{secrets.token_hex(3)}"
    cluster_env = {"FACTORY_BROKER_URL": BROKER, "FACTORY_CLUSTER": name}
    results: dict = {"customers": args.customers, "cpus": os.cpu_count(),
                     "date": time.strftime("%Y-%m-%d"), "rounds": {}}
    worker = start_worker(name, WORK / "celery-worker.log")
    try:
        measures = {"pool_2": lambda: run_factory("pool", data, WORK / "cluster-pool", {}),
                    "celery_2": lambda: run_factory("celery", data, WORK / "cluster-celery",
                                                    cluster_env)}
        order = list(measures)
        for number in range(args.rounds):
            for key in order if number % 2 == 0 else order[::-1]:
                outcome = measures[key]()
                assert outcome["archived"] == args.customers, outcome
                results["rounds"].setdefault(key, []).append(outcome)
                print(f"  round {number + 1}: {key:<9} {outcome['docs_per_s']:.2f} docs/s"
                      f" ({outcome['seconds']:.1f} s, {outcome['workers']} processes)",
                      flush=True)
    finally:
        stop(worker)
        clean_redis(name)
    for key, rounds in results["rounds"].items():
        results[key] = min(rounds, key=lambda r: r["seconds"])
    results["s3"] = s3_puts(args.puts)

    pool, celery = results["pool_2"], results["celery_2"]
    print(f"\nCluster: {args.customers} statements, {os.cpu_count()} cores, best of"
          f" {args.rounds} rounds")
    for label, row in (("local pool, 2 processes", pool), ("Celery, 2 processes", celery)):
        print(f"  {label:<26} {row['docs_per_s']:>6.2f} docs/s {row['pages_per_s']:>7.2f}"
              f" pages/s {row['seconds']:>7.1f} s")
    print(f"  Celery / local pool: {celery['docs_per_s'] / pool['docs_per_s']:.2f}"
          "  (target >= 0.9)")
    for threads, row in results["s3"].items():
        print(f"  S3 puts (40 KiB, SHA-256, Object Lock) to loopback moto,"
              f" {threads.replace('_', ' ')}: {row['puts_per_s']:.0f} puts/s  (target >= 200)")
    (WORK / "cluster.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    print(f"  written to {WORK / 'cluster.json'}")


if __name__ == "__main__":
    main()
