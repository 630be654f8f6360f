"""`make bench-scale`: where one coordinator, one Redis and one PostgreSQL stop scaling.

The real coordinator (`docfactory run --executor celery`, its own process), a private Redis
(redis-server on a free loopback port) as broker, a private PostgreSQL (initdb in
var/bench/scale, free port) as index, a real store (file store; BENCH_SCALE_STORE=s3: npm's
s3rver from tests/support on loopback), and Celery workers running the real task with rendering
replaced by `bench/scale_worker.py`'s stub (a fixed small PDF after BENCH_RENDER_DELAY seconds,
default 0: CPU-free) through the documented seam `factory.render.engine.use_pdf_renderer`.
Workers use Celery's threads pool, so many simulated workers fit on this machine.

For each simulated worker count (BENCH_SCALE_WORKERS, default "1,4,16") on a fresh database,
BENCH_SCALE_RECORDS records (default 400) of the sample generator (seed 2026) are run; it
reports docs/s end to end, CPU seconds per document of the coordinator (its rusage), the
workers (/proc/<pid>/stat; includes the Jinja HTML, excludes PDF layout), Redis and the
PostgreSQL backends (/proc of every backend seen in pg_stat_activity, summed), index
transactions per document (pg_stat_database xact_commit + xact_rollback delta) and broker
commands per document (INFO commandstats delta), and which component saturates first. Then the
projection: how many render cores one coordinator + one Redis + one PostgreSQL can feed at the
render cost BENCH_RENDER_COST (CPU s per document, default 0.18: the reference statement), and
hours for 300,000 and 1,000,000 statements on 8, 32 and 128 cores.

BENCH_SCALE_PROFILE=PATH runs the coordinator under cProfile and writes PATH.<workers> (its CPU
figures are then inflated by the profiler: for finding the hot spots, not for the table).

Private servers: the figures are this run's alone, although the machine is shared (other load
still slows wall time: compare CPU seconds). Writes var/bench/scale.json.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
WORK = REPO / "var" / "bench" / "scale"
TICK = os.sysconf("SC_CLK_TCK")
PG_BIN = next(iter(sorted(Path("/usr/lib/postgresql").glob("*/bin"))), Path("/usr/bin"))
AWS_ENV = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench-secret",
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_CONFIG_FILE": "/dev/null",
           "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pid: int) -> float | None:
    """utime + stime of ``pid`` (and of its waited-for children) from /proc, or None."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return sum(int(v) for v in fields[11:15]) / TICK


class Servers:
    """A private redis-server and PostgreSQL cluster (and s3rver when asked), all loopback."""

    def __init__(self, store: str) -> None:
        self.processes: list[subprocess.Popen[Any]] = []
        self.redis_port = free_port()
        redis = subprocess.Popen(["redis-server", "--port", str(self.redis_port), "--bind",
                                  "127.0.0.1", "--save", "", "--appendonly", "no"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.processes.append(redis)
        self.redis_pid = redis.pid
        self.pg_dir = WORK / "pg"
        shutil.rmtree(self.pg_dir, ignore_errors=True)
        subprocess.run([str(PG_BIN / "initdb"), "-D", str(self.pg_dir), "-U", "postgres",
                        "-A", "trust"], check=True, capture_output=True,
                       **_as_postgres())
        self.pg_port = free_port()
        subprocess.run([str(PG_BIN / "pg_ctl"), "-D", str(self.pg_dir), "-w", "-l",
                        str(WORK / "pg.log"), "-o",
                        f"-p {self.pg_port} -k {self.pg_dir} -c listen_addresses=127.0.0.1"
                        " -c max_connections=300", "start"], check=True,
                       capture_output=True, **_as_postgres())
        self.s3_url = None
        if store == "s3":
            s3rver = REPO / "tests" / "support" / "s3rver.js"
            process = subprocess.Popen(["node", str(s3rver), str(WORK / "s3"),
                                        AWS_ENV["AWS_ACCESS_KEY_ID"],
                                        AWS_ENV["AWS_SECRET_ACCESS_KEY"]],
                                       stdout=subprocess.PIPE, text=True)
            self.processes.append(process)
            assert process.stdout is not None
            line = process.stdout.readline()
            if not line.startswith("listening on "):
                raise SystemExit(f"s3rver did not start: {line}")
            self.s3_url = f"http://{line.split()[-1]}"
        self.redis_url = f"redis://127.0.0.1:{self.redis_port}/0"
        for _ in range(100):
            with contextlib.suppress(Exception):
                self.redis().ping()
                break
            time.sleep(0.1)

    def redis(self) -> Any:
        import redis

        return redis.Redis(port=self.redis_port, socket_timeout=10)

    def pg(self, database: str = "postgres") -> Any:
        import psycopg

        return psycopg.connect(f"postgresql://postgres@127.0.0.1:{self.pg_port}/{database}",
                               autocommit=True)

    def close(self) -> None:
        subprocess.run([str(PG_BIN / "pg_ctl"), "-D", str(self.pg_dir), "-m", "fast", "stop"],
                       capture_output=True, check=False, **_as_postgres())
        for process in self.processes:
            process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(10)


def _as_postgres() -> dict[str, Any]:
    """initdb refuses to run as root: run the PostgreSQL tools as the postgres user then."""
    if os.geteuid() != 0:
        return {}
    import pwd

    user = pwd.getpwnam("postgres")
    WORK.mkdir(parents=True, exist_ok=True)
    os.chown(WORK, user.pw_uid, user.pw_gid)

    def demote() -> None:
        os.setgid(user.pw_gid)
        os.setuid(user.pw_uid)

    return {"preexec_fn": demote}


class Sampler:
    """Samples, every 0.2 s while a run goes on: documents done (the coordinator's live counts
    in Redis), the CPU of the coordinator, the workers, Redis and every PostgreSQL backend of
    ``database``. The per-document figures come from the steady window between the sample
    where a tenth of the records were done and the last one, so that start-up (imports, warm
    workers) is not counted per document."""

    def __init__(self, servers: Servers, database: str, workers: list[int]) -> None:
        self.servers, self.database, self.workers = servers, database, workers
        self.coordinator: int | None = None
        self.live_key: bytes | None = None
        self.own = {"scan": 0, "hget": 0}  # this sampler's own Redis commands, not counted
        self.samples: list[dict[str, float]] = []
        self.backends: dict[int, tuple[float, float]] = {}  # pid: (first seen, last)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def _sample(self, connection: Any, redis: Any) -> None:
        pids = [row[0] for row in connection.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s", (self.database,))]
        for pid in pids:
            value = cpu_seconds(pid)
            if value is not None:
                first = self.backends.get(pid, (value, value))[0]
                self.backends[pid] = (first, value)
        done = 0
        if self.live_key is None:
            self.own["scan"] += 1
            self.live_key = next(iter(redis.scan(0, match=f"{self.database}:run:*",
                                                 count=10_000)[1]), None)
        if self.live_key is not None:
            self.own["hget"] += 1
            done = int(redis.hget(self.live_key, "done") or 0)
        self.samples.append({
            "t": time.perf_counter(), "done": done,
            "coordinator": (cpu_seconds(self.coordinator) or 0.0) if self.coordinator else 0.0,
            "workers": sum(cpu_seconds(pid) or 0.0 for pid in self.workers),
            "redis": cpu_seconds(self.servers.redis_pid) or 0.0,
            "postgres": sum(last for _first, last in self.backends.values()),
        })

    def _loop(self) -> None:
        redis = self.servers.redis()
        with self.servers.pg() as connection:
            while not self.stop.is_set():
                self._sample(connection, redis)
                self.stop.wait(0.2)

    def __enter__(self) -> Sampler:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop.set()
        self.thread.join()

    def steady(self, records: int) -> dict[str, float]:
        """CPU seconds per component and documents done over the steady window."""
        real = [s for s in self.samples if s["coordinator"] > 0]
        start = next((s for s in real if s["done"] >= records / 10), real[0])
        end = max(real, key=lambda s: s["done"])
        return {"docs": end["done"] - start["done"], "seconds": end["t"] - start["t"],
                "coordinator": end["coordinator"] - start["coordinator"],
                "workers": end["workers"] - start["workers"],
                "redis": end["redis"] - start["redis"],
                "postgres": end["postgres"] - start["postgres"]}


def xacts(servers: Servers, database: str) -> int:
    with servers.pg() as connection:
        row = connection.execute("SELECT xact_commit + xact_rollback FROM pg_stat_database"
                                 " WHERE datname = %s", (database,)).fetchone()
    return int(row[0]) if row else 0


def redis_calls(servers: Servers) -> dict[str, int]:
    stats = servers.redis().info("commandstats")
    return {name.removeprefix("cmdstat_"): int(value["calls"]) for name, value in stats.items()}


def start_workers(servers: Servers, simulated: int, env: dict[str, str]
                  ) -> list[subprocess.Popen[Any]]:
    """Worker processes with threads pools: up to 8 simulated workers per process."""
    processes = -(-simulated // 8)
    threads = -(-simulated // processes)
    started = []
    for number in range(processes):
        with open(WORK / f"worker-{number}.log", "w") as log:
            started.append(subprocess.Popen(
                [sys.executable, str(REPO / "bench" / "scale_worker.py"), str(threads),
                 f"{env['FACTORY_CLUSTER']}-{number}@bench"], env=env,
                stdout=subprocess.DEVNULL, stderr=log))
    return started


def wait_for_workers(env: dict[str, str], simulated: int) -> None:
    from factory.cli.cluster import cluster_options
    from factory.executors.celery import CeleryExecutor

    deadline = time.monotonic() + 120
    executor = CeleryExecutor(cluster_options(env))
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            if executor.connect() >= simulated:
                executor.close()
                return
        executor.app = None
        time.sleep(1)
    raise SystemExit(f"workers did not come up; see {WORK}/worker-*.log")


def one_round(servers: Servers, simulated: int, job: Path, records: int,
              chunk: int | None) -> dict[str, Any]:
    database = f"scale_{simulated}_{secrets.token_hex(3)}"
    with servers.pg() as connection:
        connection.execute(f'CREATE DATABASE "{database}"')
    index = f"postgresql://postgres@127.0.0.1:{servers.pg_port}/{database}"
    archive = (f"s3://bench/{database}?endpoint_url={servers.s3_url}" if servers.s3_url
               else (WORK / "archive" / database).as_uri())
    env = {**os.environ, **AWS_ENV, "FACTORY_HOME": str(REPO), "FACTORY_VAR": str(WORK / "var"),
           "FACTORY_BROKER_URL": servers.redis_url, "FACTORY_CLUSTER": database,
           "FACTORY_INDEX_URL": index, "FACTORY_ARCHIVE_URL": archive}
    subprocess.run([sys.executable, "-m", "factory", "index", "upgrade"], env=env, check=True,
                   capture_output=True)
    workers = start_workers(servers, simulated, env)
    try:
        wait_for_workers(env, simulated)
        calls = redis_calls(servers)
        before_xacts = xacts(servers, database)
        profile = os.environ.get("BENCH_SCALE_PROFILE")  # cProfile the coordinator
        command = [sys.executable, *(["-m", "cProfile", "-o", f"{profile}.{simulated}"]
                                     if profile else []),
                   "-m", "factory", "-q", "run", str(job), "--period",
                   "2026-11", "--issued", "2026-12-01", "--executor", "celery"]
        if chunk:
            command += ["--chunk-size", str(chunk)]
        with Sampler(servers, database, [p.pid for p in workers]) as sampler:
            start = time.perf_counter()
            coordinator = subprocess.Popen(command, env=env, stdout=subprocess.PIPE,
                                           stderr=subprocess.STDOUT, text=True)
            sampler.coordinator = coordinator.pid
            output = coordinator.communicate()[0]
            wall = time.perf_counter() - start
        if coordinator.returncode not in (0, 1):
            raise SystemExit(f"the coordinator failed ({coordinator.returncode}):\n{output}")
        after_calls = redis_calls(servers)
        commands = {name: after_calls.get(name, 0) - calls.get(name, 0)
                    - sampler.own.get(name, 0) for name in after_calls}
        commands = {k: v for k, v in sorted(commands.items(), key=lambda kv: -kv[1]) if v}
        steady = sampler.steady(records)
        return {
            "simulated_workers": simulated, "records": records, "wall_s": wall,
            "docs_per_s": records / wall,
            "steady": steady, "steady_docs_per_s": steady["docs"] / max(1e-9, steady["seconds"]),
            "xacts": xacts(servers, database) - before_xacts,
            "redis_commands": sum(commands.values()), "redis_by_command": commands,
            "archived": _archived(output),
        }
    finally:
        for process in workers:
            process.terminate()
        for process in workers:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(30)


def _archived(output: str) -> int:
    for line in output.splitlines():
        if line.strip().startswith("archived:"):
            return int(line.split(":")[1].split()[0])
    return -1


def make_job(records: int) -> Path:
    from factory.samples.customers import generate

    data = WORK / "data"
    shutil.rmtree(data, ignore_errors=True)
    generate(records, data, seed=2026, period="2026-11", fmt="jsonl")
    text = (REPO / "jobs" / "monthly_statements.toml").read_text(encoding="utf-8")
    out, skipping = [], False
    for line in text.splitlines():
        if line.strip().startswith("["):
            skipping = line.strip() in ("[source]", "[source.items]", "[archive]")
        if not skipping:
            out.append(line)
    out += ["", "[source]", 'type = "jsonl"', f'path = "{data / "customers.jsonl"}"']
    job = WORK / "job.toml"
    job.write_text("\n".join(out) + "\n", encoding="utf-8")
    return job


def per_doc(result: dict[str, Any], key: str) -> float:
    """CPU seconds of ``key`` per document over the steady window; counts over the run."""
    if key in result["steady"]:
        return float(result["steady"][key]) / max(1, result["steady"]["docs"])
    return float(result[key]) / max(1, result["records"])


def report(results: list[dict[str, Any]], render_cost: float, load: tuple[float, ...]) -> None:
    print(f"Scale simulation: stub rendering (delay {os.environ.get('BENCH_RENDER_DELAY') or 0}"
          f" s), private Redis + PostgreSQL; load average {load[0]:.2f} {load[1]:.2f}"
          f" {load[2]:.2f} before, {os.getloadavg()[0]:.2f} after")
    print(f"  {'workers':>7} {'docs/s':>8} {'steady':>7} {'coord ms':>9} {'worker ms':>9}"
          f" {'redis ms':>9} {'pg ms':>7} {'xacts':>6} {'redis':>6}")
    print("  (docs/s: whole run, and steady window; ms: CPU per document; xacts and Redis"
          " commands per document)")
    for r in results:
        print(f"  {r['simulated_workers']:>7} {r['docs_per_s']:8.1f}"
              f" {r['steady_docs_per_s']:7.1f}"
              f" {1000 * per_doc(r, 'coordinator'):9.2f}"
              f" {1000 * per_doc(r, 'workers'):9.2f}"
              f" {1000 * per_doc(r, 'redis'):9.2f}"
              f" {1000 * per_doc(r, 'postgres'):7.2f}"
              f" {per_doc(r, 'xacts'):6.1f} {per_doc(r, 'redis_commands'):6.1f}")
    last = results[-1]
    top = ", ".join(f"{k} {v / last['records']:.1f}" for k, v in
                    list(last["redis_by_command"].items())[:6])
    print(f"  Redis commands per document at {last['simulated_workers']} workers: {top}")
    # Each of coordinator, Redis and one PostgreSQL is given one core of its own.
    ceilings = {name: 1 / max(1e-9, per_doc(last, key)) for name, key in (
        ("coordinator", "coordinator"), ("Redis", "redis"),
        ("PostgreSQL (one core)", "postgres"))}
    first = min(ceilings, key=lambda name: ceilings[name])
    ceiling = ceilings[first]
    worker_cost = render_cost + per_doc(last, "workers")
    print("  Ceiling (one core each): " + ", ".join(
        f"{name} {value:,.0f} docs/s" for name, value in ceilings.items())
        + f"; saturates first: {first}")
    print(f"  Projection at {render_cost * 1000:.0f} ms render CPU per document"
          f" (+{per_doc(last, 'workers') * 1000:.1f} ms worker overhead): one"
          f" coordinator + Redis + PostgreSQL feed {ceiling * worker_cost:,.0f} render cores")
    for cores in (8, 32, 128):
        rate = min(cores / worker_cost, ceiling)
        print(f"    {cores:>3} cores: {rate:7.1f} docs/s; 300,000 statements"
              f" {300_000 / rate / 3600:5.2f} h, 1,000,000 {1_000_000 / rate / 3600:5.2f} h")


def main() -> None:
    records = int(os.environ.get("BENCH_SCALE_RECORDS") or 400)
    counts = [int(n) for n in (os.environ.get("BENCH_SCALE_WORKERS") or "1,4,16").split(",")]
    chunk = int(os.environ["BENCH_SCALE_CHUNK"]) if os.environ.get("BENCH_SCALE_CHUNK") else None
    render_cost = float(os.environ.get("BENCH_RENDER_COST") or 0.18)
    store = os.environ.get("BENCH_SCALE_STORE") or "file"
    WORK.mkdir(parents=True, exist_ok=True)
    load = os.getloadavg()
    job = make_job(records)
    servers = Servers(store)
    try:
        if servers.s3_url:
            import boto3

            boto3.client("s3", endpoint_url=servers.s3_url, **{
                "aws_access_key_id": AWS_ENV["AWS_ACCESS_KEY_ID"],
                "aws_secret_access_key": AWS_ENV["AWS_SECRET_ACCESS_KEY"],
                "region_name": "us-east-1"}).create_bucket(Bucket="bench")
        results = [one_round(servers, n, job, records, chunk) for n in counts]
    finally:
        servers.close()
    report(results, render_cost, load)
    (WORK.parent / "scale.json").write_text(json.dumps(
        {"load": load, "store": store, "chunk": chunk, "render_cost": render_cost,
         "results": results}, indent=1))


if __name__ == "__main__":
    main()
