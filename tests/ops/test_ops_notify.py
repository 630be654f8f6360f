"""Run notifications against loopback receivers: a real run's end is POSTed to an HTTP
receiver as a signed JSON summary and mailed to the job's owners through aiosmtpd; a live run
whose counts do not move is reported stalled once; a receiver that is down never fails the
run and its URL's secret never reaches the log."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from factory.archive import open_index
from factory.jobs import load_job
from factory.ops.notify import StallWatch, event_of
from tests.conftest import REPO, csv_source, write_job
from tests.ops.test_ops_health import closed_port


class Receiver:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        calls = self.calls

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                calls.append({"path": self.path, "headers": dict(self.headers), "body": body})
                self.send_response(204)
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/df"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


SECRET = "whsec-test-key"


def notified_job(folder: Path, sample_dir: Path, notify: dict[str, Any]) -> Path:
    lines = (sample_dir / "customers.csv").read_text(encoding="utf-8").splitlines()[:3]
    bad = lines[1].split(",")
    bad[0], bad[3] = "C009999", "not-an-address"
    customers = folder / "customers.csv"
    folder.mkdir(parents=True, exist_ok=True)
    customers.write_text("\n".join([*lines, ",".join(bad)]) + "\n", encoding="utf-8")
    return write_job(folder, "notified.toml", name="notified", notify=notify,
                     source=csv_source(customers, sample_dir / "transactions.csv"))


def run_cli(job: Path, var: Path) -> subprocess.CompletedProcess[str]:
    env = {**{k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")},
           "FACTORY_HOME": str(REPO), "FACTORY_VAR": str(var),
           "FACTORY_NOTIFY_SECRET": SECRET}
    return subprocess.run([sys.executable, "-m", "factory", "--log-format", "json", "run",
                           str(job), "--period", "2026-11", "--executor", "inline"],
                          env=env, capture_output=True, text=True, timeout=300, check=False)


def test_a_run_with_a_reject_is_posted_signed_and_mailed(receiver: Receiver, smtp_server: Any,
                                                        sample_dir: Path,
                                                        tmp_path: Path) -> None:
    job = notified_job(tmp_path / "jobs", sample_dir, {
        "webhook": receiver.url, "email": ["ops@example.com", "owner@example.com"],
        "transport": smtp_server.url(), "sender": "factory@example.com",
        "link": "https://factory.example.com/"})
    done = run_cli(job, tmp_path / "var")
    assert done.returncode == 1, done.stdout + done.stderr  # a rejected record
    (call,) = receiver.calls
    body = call["body"]
    headers = {k.lower(): v for k, v in call["headers"].items()}
    expected = hmac.new(SECRET.encode(), headers["x-docfactory-timestamp"].encode() + b"."
                        + body, hashlib.sha256).hexdigest()
    assert headers["x-docfactory-signature"] == f"sha256={expected}"
    payload = json.loads(body)
    assert payload["event"] == "problems" and payload["job"] == "notified"
    assert payload["counts"]["archived"] == 2 and payload["counts"]["rejected"] == 1
    assert payload["link"] == f"https://factory.example.com/runs/{payload['run_id']}"
    assert "not-an-address" not in body.decode()  # counts, run id and link: nothing more
    (mail,) = smtp_server.messages
    assert sorted(mail["to"]) == ["ops@example.com", "owner@example.com"]
    text = mail["data"].decode()
    assert payload["run_id"] in text and "problems" in text and "rejected: 1" in text


def test_a_receiver_that_is_down_never_fails_the_run(sample_dir: Path, tmp_path: Path) -> None:
    hook = f"http://hook:t0ps3cret@127.0.0.1:{closed_port()}/x"
    job = notified_job(tmp_path / "jobs", sample_dir, {"webhook": hook})
    done = run_cli(job, tmp_path / "var")
    assert done.returncode == 1, done.stderr  # the reject, not the webhook
    errors = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")
              and json.loads(line)["logger"] == "docfactory.notify"]
    assert len(errors) == 1 and "not sent" in errors[0]["message"]
    assert "t0ps3cret" not in done.stderr


def test_a_run_without_progress_is_reported_stalled_once(receiver: Receiver, sample_dir: Path,
                                                         tmp_path: Path) -> None:
    job = load_job(notified_job(tmp_path / "jobs", sample_dir, {
        "webhook": receiver.url, "stalled_minutes": 30}))
    index = open_index(f"sqlite:///{tmp_path / 'index.db'}")
    index.runs.start_run("20261201T060000Z-bbbbbb", "notified", "2026-11", executor="pool",
                         workers=2, template_version="v", dry_run=False, owner="test:1")
    index.runs.heartbeat("20261201T060000Z-bbbbbb", {"counts": {"input": 40, "archived": 12}})
    watch, env = StallWatch(), {"FACTORY_NOTIFY_SECRET": SECRET}
    assert watch.check([job], index, 1000.0, env) == []
    assert watch.check([job], index, 1000.0 + 29 * 60, env) == []
    assert watch.check([job], index, 1000.0 + 31 * 60, env) == ["20261201T060000Z-bbbbbb"]
    assert watch.check([job], index, 1000.0 + 90 * 60, env) == []
    (call,) = receiver.calls
    payload = json.loads(call["body"])
    assert (payload["event"], payload["run_id"], payload["counts"]["archived"]) == \
        ("stalled", "20261201T060000Z-bbbbbb", 12)
    index.close()


@pytest.mark.parametrize(("report", "event"), [
    ({"status": "completed", "counts": {"archived": 3}}, "completed"),
    ({"status": "completed", "counts": {"archived": 2, "failed": 1}}, "problems"),
    ({"status": "failed", "error": "crashed"}, "failed"),
    ({"status": "interrupted", "interrupted": True}, "interrupted"),
])
def test_events(report: dict[str, Any], event: str) -> None:
    assert event_of(report) == event
