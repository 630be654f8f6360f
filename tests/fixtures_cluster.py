"""Fixtures for the real cluster components: Redis, an S3 server and Celery workers (PostgreSQL:
``pg_database``, ``pg_url`` and ``index_url`` in conftest.py).

Isolation from other developers' test sessions on the same machine: a uniquely named PostgreSQL
database per session (a schema per test inside it), a unique cluster name per session (Celery
queue, Redis key prefix, control exchange), an S3 server on a free loopback port. A missing
server is a failure, never a skip.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
REDIS_URL = "redis://127.0.0.1:6379/0"
AWS_ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_CONFIG_FILE": "/dev/null",
           "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"}


@pytest.fixture(scope="session")
def redis_client() -> Iterator[object]:
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_timeout=10)
    client.ping()  # fails (never skips) when Redis is not running
    yield client
    client.close()


def _delete_prefix(client: object, prefix: str) -> None:
    keys = list(client.scan_iter(match=f"{prefix}*", count=500))  # type: ignore[attr-defined]
    if keys:
        client.delete(*keys)  # type: ignore[attr-defined]


@pytest.fixture(scope="session")
def cluster_name(redis_client: object) -> Iterator[str]:
    """A cluster name of this session: its Celery queue and Redis key prefix."""
    name = f"dftest-{os.getpid()}-{secrets.token_hex(3)}"
    yield name
    _delete_prefix(redis_client, name)


@dataclass
class S3Server:
    endpoint: str

    def client(self) -> object:
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1",
                            aws_access_key_id="testing", aws_secret_access_key="testing")

    def bucket(self, lock: bool = False) -> str:
        name = f"df-{secrets.token_hex(6)}"
        self.client().create_bucket(Bucket=name,  # type: ignore[attr-defined]
                                    ObjectLockEnabledForBucket=lock)
        return name


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """moto's standalone S3 server on a free loopback port; AWS credentials in the environment
    (as a deployment would have them) for the store and for worker processes."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise
    saved = {name: os.environ.get(name) for name in AWS_ENV}
    os.environ.update(AWS_ENV)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield S3Server(f"http://{host}:{port}")
    finally:
        server.stop()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


S3RVER = REPO / "tests" / "support" / "s3rver.js"


@pytest.fixture(scope="session")
def s3rver(s3_server: S3Server, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[S3Server]:
    """A second S3 implementation, without Object Lock: npm's s3rver (tests/support, installed
    by `make test-deps`) on a free loopback port, accepting the credentials ``s3_server`` put
    in the environment. Missing, it fails: CI installs it."""
    if not (REPO / "tests" / "support" / "node_modules" / "s3rver").is_dir():
        pytest.fail("s3rver is not installed: run `make test-deps` (npm ci in tests/support)")
    process = subprocess.Popen(
        ["node", str(S3RVER), str(tmp_path_factory.mktemp("s3rver")),
         AWS_ENV["AWS_ACCESS_KEY_ID"], AWS_ENV["AWS_SECRET_ACCESS_KEY"]],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert process.stdout is not None
    line = process.stdout.readline()  # "listening on 127.0.0.1:PORT", or why it did not start
    if not line.startswith("listening on "):
        process.kill()
        pytest.fail(f"s3rver did not start: {line}{process.stdout.read()}")
    try:
        yield S3Server(f"http://{line.split()[-1]}")
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


@dataclass
class CeleryWorker:
    """A `docfactory worker` process serving ``name``."""

    process: subprocess.Popen  # type: ignore[type-arg]
    name: str
    log: Path

    @property
    def env(self) -> dict[str, str]:
        return {"FACTORY_BROKER_URL": REDIS_URL, "FACTORY_CLUSTER": self.name}

    def options(self) -> object:
        from factory.executors.cluster import ClusterOptions

        return ClusterOptions(REDIS_URL, self.name)

    def children(self) -> list[int]:
        found = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    stat = (entry / "stat").read_text()
                except OSError:
                    continue
                if int(stat.rsplit(")", 1)[1].split()[1]) == self.process.pid:
                    found.append(int(entry.name))
        return found

    def log_text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


def start_worker(name: str, log: Path, concurrency: int = 2,
                 extra_env: dict[str, str] | None = None, args: tuple[str, ...] = ()
                 ) -> CeleryWorker:
    env = {**os.environ, "FACTORY_HOME": str(REPO), "FACTORY_BROKER_URL": REDIS_URL,
           "FACTORY_CLUSTER": name, **(extra_env or {})}
    handle = log.open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "factory", "worker", "--concurrency", str(concurrency),
         "--loglevel", "info", *args], cwd=REPO, env=env, stdout=handle, stderr=subprocess.STDOUT,
        start_new_session=True)
    handle.close()
    worker = CeleryWorker(process, name, log)
    from factory.executors.celery import CeleryExecutor

    executor = CeleryExecutor(worker.options())  # type: ignore[arg-type]
    deadline = time.monotonic() + 90
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"the worker exited ({process.returncode}):\n{worker.log_text()}")
        try:
            if executor.connect() >= concurrency:
                break
        except Exception:
            if time.monotonic() > deadline:
                raise
        if time.monotonic() > deadline:
            raise RuntimeError(f"the worker did not come up:\n{worker.log_text()}")
        time.sleep(0.5)
    executor.close()
    return worker


def stop_worker(worker: CeleryWorker) -> None:
    if worker.process.poll() is None:
        worker.process.send_signal(signal.SIGTERM)
        try:
            worker.process.wait(30)
        except subprocess.TimeoutExpired:
            worker.process.kill()
            worker.process.wait(10)
    with contextlib.suppress(ProcessLookupError):  # pool processes left behind, if any
        os.killpg(worker.process.pid, signal.SIGKILL)


@pytest.fixture(scope="session")
def celery_worker(cluster_name: str, s3_server: S3Server,
                  tmp_path_factory: pytest.TempPathFactory) -> Iterator[CeleryWorker]:
    """A real Celery worker with 2 processes for this session's cluster."""
    log = tmp_path_factory.mktemp("worker") / "worker.log"
    worker = start_worker(cluster_name, log)
    try:
        yield worker
    finally:
        stop_worker(worker)


def task_worker_config(job: Any, tmp_path: Path, run_id: str, count: int
                       ) -> tuple[Any, list[Any]]:
    """A `WorkerConfig` for ``job`` over a fresh SQLite index and file store under
    ``tmp_path`` (what a Celery task receives), and the job's first ``count`` records."""
    from datetime import date

    from factory.archive import open_index
    from factory.config import load_settings
    from factory.jobs import RecordSchema
    from factory.models import Period
    from factory.pipeline import WorkerConfig
    from factory.pipeline.document import DocumentRenderer
    from factory.runner.plan import plan_records
    from factory.sources import SeenKeys, open_source
    from tests.conftest import REPO

    settings = load_settings(REPO, {}, var_dir=str(tmp_path / "var"))
    index_url = f"sqlite:///{tmp_path / 'index.db'}"
    open_index(index_url).close()
    version = DocumentRenderer(job, settings, Period.parse("2026-11"),
                               date(2026, 12, 1)).templates.version
    config = WorkerConfig(
        job_path=str(job.path), settings=settings, run_id=run_id, period="2026-11",
        issued=date(2026, 12, 1), store_url=(tmp_path / "archive").as_uri(),
        index_url=index_url, template_version=version)
    with SeenKeys(tmp_path / "seen") as seen:
        records = list(plan_records(open_source(job, settings), RecordSchema(job), seen))
    return config, records[:count]
