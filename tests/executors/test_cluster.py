"""Cluster runs end to end: a real Celery worker process over Redis, the index on PostgreSQL,
the archive on an S3 server (moto, over HTTP on loopback); retries, live status from another
process, and a worker process killed with SIGKILL in the middle of a batch."""

from __future__ import annotations

import email
import hashlib
import json
import os
import signal
import subprocess
import sys
from email import policy
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from factory.archive import Slot, open_index, open_store
from factory.archive.tables import claims
from factory.cli.app import cli, load_commands
from factory.config import Settings, load_settings
from factory.errors import ConfigError
from factory.executors import make_executor
from factory.executors.celery import CeleryExecutor
from factory.executors.cluster import ClusterOptions
from factory.executors.live import read_live
from factory.executors.payload import (
    decode_config,
    decode_outcome,
    decode_record,
    encode_config,
    encode_outcome,
    encode_record,
    without_password,
)
from factory.jobs import load_job
from factory.models import (
    ChannelOutcome,
    ChannelStatus,
    Counts,
    Outcome,
    Position,
    Record,
    Status,
)
from factory.pipeline import WorkerConfig
from factory.runner import RunOptions, run_job
from factory.samples.customers import generate
from tests.conftest import REPO, csv_source, pdf_text, write_job
from tests.fixtures_cluster import REDIS_URL, CeleryWorker, S3Server, start_worker, stop_worker

JOB = "monthly_statements"


def cluster_job(folder: Path, data: Path, store_url: str, index_url: str) -> Path:
    return write_job(folder, source=csv_source(data / "customers.csv",
                                               data / "transactions.csv"),
                     archive={"store": store_url, "index": index_url})


class Hook:
    """A progress sink that calls ``action(counts)`` after every finished chunk."""

    def __init__(self, action: Any = None) -> None:
        self.action = action
        self.updates = 0

    def start(self, total: int | None, description: str) -> None:
        pass

    def update(self, counts: Counts) -> None:
        self.updates += 1
        if self.action is not None:
            self.action(counts)

    def finish(self, counts: Counts) -> None:
        pass


def celery_run(worker: CeleryWorker, job_path: Path, settings: Settings,
               progress: Any = None, chunk_size: int = 4, **options: Any) -> Any:
    executor = make_executor("celery", cluster=worker.options())
    assert executor.connect() == 2
    return run_job(load_job(job_path), settings,
                   RunOptions(period="2026-11", chunk_size=chunk_size, **options), executor,
                   progress)


def check_archive(store_url: str, index_url: str, keys: set[str], run_id: str) -> None:
    """Exactly one index row and one stored PDF (plus its record snapshot) per record, each
    matching its SHA-256, and no claim left behind."""
    index = open_index(index_url, migrate=False)
    store = open_store(store_url)
    entries = list(index.documents.entries(job=JOB, period="2026-11"))
    assert sorted(e.record_key for e in entries) == sorted(keys)
    assert {e.run_id for e in entries} == {run_id}
    pdfs = sorted(k for k in store.keys(f"{JOB}/2026-11/") if k.endswith(".pdf"))
    snapshots = [k for k in store.keys(f"{JOB}/2026-11/") if k.endswith(".record.json")]
    assert pdfs == sorted(e.storage_key for e in entries)
    assert len(snapshots) == len(keys)
    for entry in entries:
        data = store.get(entry.storage_key)
        assert hashlib.sha256(data).hexdigest() == entry.sha256
        assert entry.record_key in pdf_text(data)
    assert index.claims.held() == 0
    index.close()


def test_a_cluster_run_on_postgresql_and_s3_with_live_status(
        celery_worker: CeleryWorker, s3_server: S3Server, pg_url: str, sample_dir: Path,
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store_url = f"s3://{s3_server.bucket(lock=True)}/archive?endpoint_url={s3_server.endpoint}"
    job_path = cluster_job(tmp_path / "jobs", sample_dir, store_url, pg_url)
    settings = load_settings(REPO, {}, var_dir=str(tmp_path / "var"))
    for name, value in celery_worker.env.items():
        monkeypatch.setenv(name, value)
    load_commands()
    seen: list[str] = []

    def status_from_elsewhere(counts: Counts) -> None:
        if seen:
            return
        (run,) = open_index(pg_url, migrate=False).runs.recent(JOB, 1)
        result = CliRunner().invoke(cli, ["status", run.run_id, "--index", pg_url])
        assert result.exit_code == 0, result.output
        seen.append(result.output)

    report = celery_run(celery_worker, job_path, settings, Hook(status_from_elsewhere))
    counts = report.counts
    assert (counts.input, counts.archived, counts.rendered, counts.failed) == (12, 12, 12, 0)
    assert report.balanced and report.executor == "celery" and report.workers == 2
    assert report.index_url.startswith("postgresql+psycopg://")
    check_archive(store_url, pg_url, {f"C{n:06d}" for n in range(1, 13)}, report.run_id)

    (output,) = seen
    assert "running" in output and "live (running" in output
    assert "in flight on 2 worker process(es)" in output
    live = read_live(REDIS_URL, celery_worker.name, report.run_id)
    assert live is not None and live["state"] == "finished"
    assert (live["done"], live["archived"], live["in_flight"]) == (12, 12, 0)

    store = open_store(store_url)
    entry = next(open_index(pg_url, migrate=False).documents.entries(job=JOB))
    retention = store.retention(entry.storage_key)  # type: ignore[attr-defined]
    assert retention["ObjectLockMode"] == "GOVERNANCE"
    assert retention["ObjectLockRetainUntilDate"].year == entry.created_at.year + 10

    again = celery_run(celery_worker, job_path, settings)
    assert (again.counts.skipped, again.counts.archived, again.counts.rendered) == (12, 0, 0)
    assert again.balanced


def test_retryable_failures_are_retried_by_celery_with_the_done_records_kept(
        celery_worker: CeleryWorker, pg_url: str, sample_dir: Path, tmp_path: Path) -> None:
    """A record whose claim is held by another live worker of the run fails retryably: the
    task is retried with backoff for that record only, and succeeds once the claim lapses."""
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import insert

    settings = load_settings(REPO, {}, var_dir=str(tmp_path / "var"))
    store_url = (tmp_path / "archive").as_uri()
    job_path = cluster_job(tmp_path / "jobs", sample_dir, store_url, pg_url)
    index = open_index(pg_url)
    run_id = "20261124T000000Z-retry1"
    lapses = datetime.now(UTC) - timedelta(minutes=15) + timedelta(seconds=8)
    slot = Slot(JOB, "2026-11", "C000001", "pdf", "statement")
    with index.engine.begin() as connection:
        connection.execute(insert(claims).values(**slot.values(), run_id=run_id,
                                                 token="f" * 32, claimed_at=lapses,
                                                 holder="another-live-worker"))
    before = len(celery_worker.log_text())
    report = celery_run(celery_worker, job_path, settings, run_id=run_id)
    assert (report.counts.archived, report.counts.failed) == (12, 0), report.failure_reasons
    assert report.balanced
    log = celery_worker.log_text()[before:]
    assert "retry: Retry in" in log, log
    check_archive(store_url, pg_url, {f"C{n:06d}" for n in range(1, 13)}, run_id)


class Killer:
    """After the first archived records, SIGKILL the worker process running the most recently
    started task, once, while that task holds its claims (it dies in the middle of its
    chunk)."""

    def __init__(self, worker: CeleryWorker, index_url: str) -> None:
        self.worker = worker
        self.control = CeleryExecutor(worker.options())  # type: ignore[arg-type]
        self.control.connect()
        self.nodes = list(self.control.app.control.inspect(timeout=2.0).ping() or {})
        self.index = open_index(index_url)
        self.killed: list[tuple[str, int]] = []

    def __call__(self, counts: Counts) -> None:
        if self.killed or counts.archived < 2:
            return
        inspect = self.control.app.control.inspect(destination=self.nodes, timeout=5.0)
        tasks = sorted((task for found in (inspect.active() or {}).values() for task in found),
                       key=lambda task: task["time_start"] or 0)
        if not tasks:
            return
        task_id, pid = tasks[-1]["id"], tasks[-1]["worker_pid"]
        assert pid in self.worker.children()
        # A task holds its records' claims from its start to its end (`pipeline/chunk.py`):
        # kill only one that holds them now, once. (Killing first and checking after could
        # hit a task between its end and its result, and then kill a second chunk.)
        with self.index.engine.connect() as connection:
            holding = connection.execute(select(func.count()).select_from(claims).where(
                claims.c.holder == task_id)).scalar_one()
        if holding:
            os.kill(pid, signal.SIGKILL)
            self.killed.append((task_id, pid))

    def close(self) -> None:
        self.control.close()
        self.index.close()


def test_a_worker_process_killed_mid_batch(s3_server: S3Server, pg_url: str,
                                           cluster_name: str, tmp_path: Path) -> None:
    """kill -9 of a worker process while it renders a chunk: Celery runs the task again under
    the same task id, which takes the dead process's claims over at once, and the batch
    completes with exactly one archived document and one index row per record."""
    data = tmp_path / "data"
    generate(24, data, seed=11, period="2026-11", fmt="csv")
    store_url = f"s3://{s3_server.bucket(lock=True)}/fault?endpoint_url={s3_server.endpoint}"
    job_path = cluster_job(tmp_path / "jobs", data, store_url, pg_url)
    settings = load_settings(REPO, {}, var_dir=str(tmp_path / "var"))
    worker = start_worker(f"{cluster_name}-fault", tmp_path / "fault-worker.log")
    killer = Killer(worker, pg_url)
    try:
        report = celery_run(worker, job_path, settings, Hook(killer))
    finally:
        killer.close()
        stop_worker(worker)
    assert killer.killed, "no worker process was killed in the middle of a record"
    (task_id, pid), log = killer.killed[0], worker.log_text()
    assert f"pid:{pid} exited with 'signal 9" in log, log
    assert log.count(f"Task docfactory.process_chunk[{task_id}] received") == 2
    assert f"Task docfactory.process_chunk[{task_id}] succeeded" in log
    counts = report.counts
    assert (counts.input, counts.archived, counts.failed, counts.skipped) == (24, 24, 0, 0)
    assert report.balanced and report.status == "completed"
    check_archive(store_url, pg_url, {f"C{n:06d}" for n in range(1, 25)}, report.run_id)


def test_a_chunk_whose_worker_keeps_dying_fails_its_records_and_the_run_goes_on(
        pg_url: str, cluster_name: str, sample_dir: Path, tmp_path: Path) -> None:
    """With no retries left, a chunk whose process was killed fails the records it had not
    archived, with the reason (a poison chunk cannot loop forever); a record archived before
    the kill counts as archived; the report balances, and running again archives the failed
    records."""
    store_url = (tmp_path / "archive").as_uri()
    job_path = cluster_job(tmp_path / "jobs", sample_dir, store_url, pg_url)
    settings = load_settings(REPO, {}, var_dir=str(tmp_path / "var"))
    worker = start_worker(f"{cluster_name}-poison", tmp_path / "poison-worker.log",
                          extra_env={"FACTORY_TASK_RETRIES": "0"})
    killer = Killer(worker, pg_url)
    try:
        report = celery_run(worker, job_path, settings, Hook(killer), chunk_size=2)
        index = open_index(pg_url, migrate=False)
        archived_first = {e.record_key for e in index.documents.entries(job=JOB)}
        again = celery_run(worker, job_path, settings)
    finally:
        killer.close()
        stop_worker(worker)
    assert killer.killed, "no worker process was killed in the middle of a record"
    counts = report.counts
    assert counts.failed in (1, 2) and counts.archived + counts.failed == 12
    assert report.balanced
    (reason,) = report.failure_reasons
    assert reason.startswith("a worker process died on this chunk, killed or out of memory")
    failures = [json.loads(line) for line in Path(report.failures_file).read_text().splitlines()]
    assert len(failures) == counts.failed
    assert all(f["reason"].startswith("a worker process died") for f in failures)
    assert len(archived_first) == counts.archived
    assert not archived_first & {f["key"] for f in failures}
    assert (again.counts.archived, again.counts.skipped, again.counts.failed) == \
        (counts.failed, counts.archived, 0)
    assert index.documents.count(JOB, "2026-11") == 12 and index.claims.held() == 0


def test_the_cli_runs_a_job_on_the_cluster(celery_worker: CeleryWorker, sample_job: Any,
                                           tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """`docfactory run JOB --executor celery`: the same log lines, summary and exit code as
    the local pool."""
    for name, value in celery_worker.env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("FACTORY_VAR", str(tmp_path / "var"))
    monkeypatch.setenv("FACTORY_HOME", str(REPO))
    load_commands()
    result = CliRunner().invoke(cli, ["run", str(sample_job.path), "--period", "2026-11",
                                      "--executor", "celery", "--limit", "5",
                                      "--chunk-size", "2"])
    assert result.exit_code == 0, result.output
    assert "monthly_statements 2026-11: started, 5 records" in result.output
    assert "5/5 processed, 5 archived" in result.output
    assert "(2 workers, celery)" in result.output
    assert "reconciliation: ✓ input 5 = archived 5" in result.output
    index = open_index(f"sqlite:///{tmp_path / 'var' / 'index.db'}", migrate=False)
    assert index.documents.count(JOB, "2026-11") == 5


def test_a_chunk_over_its_time_limit_loses_nothing(cluster_name: str, sample_dir: Path,
                                                   tmp_path: Path) -> None:
    """Workers with a 1-second limit per chunk and a chunk that needs more: the records not
    done in time fail as retryable and are retried; every record ends archived or failed
    with the time limit as its reason, once, and no claim is left behind."""
    settings = load_settings(REPO, {}, var_dir=str(tmp_path / "var"))
    store_url = (tmp_path / "archive").as_uri()
    index_url = f"sqlite:///{tmp_path / 'index.db'}"
    job_path = cluster_job(tmp_path / "jobs", sample_dir, store_url, index_url)
    worker = start_worker(f"{cluster_name}-limit", tmp_path / "limit-worker.log",
                          concurrency=1, extra_env={"FACTORY_TASK_TIME_LIMIT": "1",
                                                    "FACTORY_TASK_RETRIES": "2"})
    try:
        executor = make_executor("celery", cluster=worker.options())
        executor.connect()
        report = run_job(load_job(job_path), settings,
                         RunOptions(period="2026-11", chunk_size=12), executor)
    finally:
        stop_worker(worker)
    log = worker.log_text()
    assert "SoftTimeLimitExceeded" in log or "retry: Retry in" in log, log
    counts = report.counts
    assert report.balanced and counts.archived + counts.failed == 12, counts
    assert counts.failed > 0 or "retry: Retry in" in log, log
    assert all("time limit" in reason for reason in report.failure_reasons), \
        (report.failure_reasons, log)
    index = open_index(index_url, migrate=False)
    assert index.documents.count(JOB, "2026-11") == counts.archived
    assert index.claims.held() == 0, log


def test_a_record_cut_off_by_the_time_limit_is_settled_from_the_index(
        sample_job: Any, tmp_path: Path) -> None:
    """The soft time limit can cut a record off anywhere: just after its claim was taken, or
    just after its document was indexed. Settling it drops the claims of that unit of work
    and counts a record whose document this run indexed as archived, not failed; a record
    cut off before its index write fails, retryable, and the next attempt starts clean."""
    from factory.pipeline.worker import Worker
    from tests.fixtures_cluster import task_worker_config

    config, records = task_worker_config(sample_job, tmp_path, "run-limit", 2)
    worker = Worker(config)
    try:
        done = worker.process(records[0], holder="task-1")
        assert done.status is Status.ARCHIVED, done
        settled = worker.settle_interrupted(records[0], "task-1", "time limit: 1 s")
        assert settled.status is Status.ARCHIVED
        assert settled.document_ids == done.document_ids and settled.pages == done.pages

        slot = Slot(sample_job.name, "2026-11", records[1].key, "pdf", sample_job.document_type)
        worker.index.claims.claim(slot, "run-limit", holder="task-1")
        assert worker.index.claims.held("run-limit") == 1
        settled = worker.settle_interrupted(records[1], "task-1", "time limit: 1 s")
        assert settled.status is Status.FAILED and settled.retryable
        assert settled.reason == "time limit: 1 s"
        assert worker.index.claims.held("run-limit") == 0
        again = worker.process(records[1], holder="task-2")
        assert again.status is Status.ARCHIVED, again
    finally:
        worker.close()


def test_no_worker_on_the_queue_is_a_clear_error(cluster_name: str, sample_job: Any,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FACTORY_BROKER_URL", REDIS_URL)
    monkeypatch.setenv("FACTORY_CLUSTER", f"{cluster_name}-nobody")
    load_commands()
    result = CliRunner().invoke(cli, ["run", str(sample_job.path), "--period", "2026-11",
                                      "--executor", "celery"])
    assert result.exit_code == 2, result.output
    assert f"no Celery worker consumes queue '{cluster_name}-nobody'" in result.output
    monkeypatch.delenv("FACTORY_BROKER_URL")
    result = CliRunner().invoke(cli, ["run", str(sample_job.path), "--executor", "celery"])
    assert result.exit_code == 2 and "FACTORY_BROKER_URL" in result.output


def test_the_coordinator_imports_celery_only_for_the_celery_executor() -> None:
    code = ("import sys; from factory.cli.app import load_commands; load_commands();"
            " from factory.executors import make_executor; make_executor('pool', 1);"
            " import factory.runner, factory.archive;"
            " print(sorted(m for m in sys.modules if m.split('.')[0] in"
            " ('celery', 'kombu', 'boto3', 'redis')))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True,
                         capture_output=True, text=True).stdout
    assert out.strip() == "[]"


def test_payloads_are_json_carry_no_password_and_rebase_paths(tmp_path: Path) -> None:
    settings = load_settings(REPO, {}, var_dir=str(tmp_path / "var"))
    config = WorkerConfig(
        job_path=str(REPO / "jobs" / "monthly_statements.toml"), settings=settings,
        run_id="r1", period="2026-11", issued=__import__("datetime").date(2026, 12, 1),
        store_url="s3://bucket/p?endpoint_url=http://127.0.0.1:9000",
        index_url="postgresql://app:s3cret@db.example:5432/factory", template_version="v",
        email_url="smtp://mailer:m41l-pw@mail.example:587?starttls=require",
        sms_url="https://:T0KEN@sms.example/v1/messages", resend_unknown=True)
    payload = json.loads(json.dumps(encode_config(config)))
    for secret in ("s3cret", "m41l-pw", "T0KEN"):
        assert secret not in json.dumps(payload)
    assert payload["job_path"] == "jobs/monthly_statements.toml"
    elsewhere = load_settings(tmp_path / "deploy", {
        "FACTORY_INDEX_URL": "postgresql://app:s3cret@db.example:5432/factory",
        "FACTORY_EMAIL_URL": "smtp://mailer:m41l-pw@mail.example:587?starttls=require",
        "FACTORY_SMS_URL": "https://:T0KEN@sms.example/v1/messages"})
    rebuilt = decode_config(payload, elsewhere)
    assert rebuilt.job_path == str(tmp_path / "deploy" / "jobs" / "monthly_statements.toml")
    assert rebuilt.settings.templates_dir == tmp_path / "deploy" / "templates"
    assert rebuilt.index_url == "postgresql://app:s3cret@db.example:5432/factory"
    assert decode_config(payload).index_url == "postgresql://app@db.example:5432/factory"
    assert decode_config(payload).settings.templates_dir == settings.templates_dir
    assert rebuilt.store_url == config.store_url and rebuilt.issued == config.issued
    assert (rebuilt.email_url, rebuilt.sms_url) == (config.email_url, config.sms_url)
    assert rebuilt.resend_unknown

    record = Record("C1", "C1", "cs", Position("customers.csv", 1, 2),
                    {"customer_id": "C1", "transactions": [{"amount": "1.50"}]})
    assert decode_record(json.loads(json.dumps(encode_record(record)))) == record
    outcome = Outcome("C1", record.position, Status.ARCHIVED, 2, 100, ("d1",), rendered=True,
                      channels=(ChannelOutcome("pdf", ChannelStatus.DONE, rendered=True,
                                               document_id="d1"),
                                ChannelOutcome("email", ChannelStatus.SUPPRESSED,
                                               reason="no consent")))
    assert decode_outcome(json.loads(json.dumps(encode_outcome(outcome)))) == outcome
    assert without_password("redis://:pw@127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"


def test_cluster_options_are_checked() -> None:
    with pytest.raises(ConfigError, match="Redis URL"):
        ClusterOptions("amqp://x").check()
    with pytest.raises(ConfigError, match="shorter than the claim lease"):
        ClusterOptions(REDIS_URL, time_limit=3600).check()
    with pytest.raises(ConfigError, match="cluster name"):
        ClusterOptions(REDIS_URL, name="a b").check()
    assert ClusterOptions(REDIS_URL).visibility_timeout > 2 * 600


def test_a_worker_killed_mid_batch_never_sends_a_message_twice(
        pg_url: str, cluster_name: str, smtp_server, tmp_path: Path) -> None:
    """The fault test on a job that sends: kill -9 of a worker process in the middle of a
    renewal-notice batch (PDF, then email over a real SMTP server, SMS to the outbox). The
    batch completes, every record has one archived PDF, and no email or SMS goes out twice:
    a redelivered task finds each send already recorded (or, for SMTP, held as unknown
    rather than sent blind)."""
    import tomllib

    import tomli_w

    data = tmp_path / "data"
    generate(24, data, seed=5, period="2026-11", fmt="csv")
    spec = tomllib.loads((REPO / "jobs" / "renewal_notice.toml").read_text(encoding="utf-8"))
    spec["source"] = {"type": "csv", "path": str(data / "customers.csv")}
    spec["archive"] = {"store": (tmp_path / "archive").as_uri(), "index": pg_url}
    spec["email"]["transport"] = smtp_server.url()
    spec["sms"]["transport"] = f"outbox:{tmp_path / 'outbox'}"
    job_path = tmp_path / "jobs" / "renewal_notice.toml"
    job_path.parent.mkdir(parents=True)
    job_path.write_text(tomli_w.dumps(spec), encoding="utf-8")
    settings = load_settings(REPO, {}, var_dir=str(tmp_path / "var"))
    worker = start_worker(f"{cluster_name}-sends", tmp_path / "sends-worker.log")
    killer = Killer(worker, pg_url)
    try:
        report = celery_run(worker, job_path, settings, Hook(killer), chunk_size=2)
    finally:
        killer.close()
        stop_worker(worker)
    assert killer.killed, "no worker process was killed in the middle of a record"
    counts = report.counts
    assert report.balanced and counts.input == 24
    failures = [json.loads(line) for line in Path(report.failures_file).read_text()
                .splitlines()] if report.failures_file else []
    assert all("unknown" in f["reason"] for f in failures), failures
    assert counts.archived + counts.failed == 24

    index = open_index(pg_url, migrate=False)
    pdfs = list(index.documents.entries(job="renewal_notice", period="2026-11", channel="pdf"))
    assert sorted(e.record_key for e in pdfs) == sorted({e.record_key for e in pdfs})
    assert len(pdfs) == 24
    sent = index.deliveries.where(job="renewal_notice", period="2026-11", channel="email",
                                  status="sent")
    message_ids = []
    for received in smtp_server.messages:
        message = email.message_from_bytes(received["data"], policy=policy.default)
        message_ids.append(message["Message-ID"])
    assert len(message_ids) >= 8, "the batch should send emails"
    assert len(message_ids) == len(set(message_ids)), "an email was sent twice"
    assert sorted(message_ids) == sorted(row.message_id for row in sent)
    sms_files = list((tmp_path / "outbox").rglob("*.json"))
    sms_sent = index.deliveries.where(job="renewal_notice", period="2026-11", channel="sms",
                                      status="sent")
    assert sms_sent, "the batch should send SMS"
    assert len(sms_files) == len(sms_sent) == len({r.record_key for r in sms_sent})
    assert index.claims.held() == 0
    index.close()
