"""The webhook channel end to end: real rendering, the archive and the index, and a real HTTP
receiver on loopback that checks every request's HMAC signature; retries on 5xx, a permanent
refusal on 4xx, nothing of the record beyond its identity, and a rerun that sends nothing
twice."""

from __future__ import annotations

import csv
import hashlib
import hmac
import json
import threading
import tomllib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import tomli_w

from factory.archive import open_index, open_store
from factory.config import Settings
from factory.executors import InlineExecutor
from factory.jobs import load_job
from factory.runner import RunOptions, run_job
from tests.conftest import REPO

PERIOD = "2026-12"
SECRET = "wh-s3cret-never-logged"
LINK_BASE = "https://docs.northwind.example"


class Receiver:
    """A customer's webhook endpoint on 127.0.0.1: refuses (401) a request whose signature
    does not verify; ``script[path]`` holds the next statuses of a path; records the rest."""

    def __init__(self, secret: str) -> None:
        self.requests: list[dict[str, Any]] = []
        self.accepted: list[str] = []
        self.script: dict[str, list[int]] = {}
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                stamp = self.headers.get("X-Docfactory-Timestamp", "")
                expected = "sha256=" + hmac.new(secret.encode(), stamp.encode() + b"." + body,
                                                hashlib.sha256).hexdigest()
                signed = hmac.compare_digest(
                    expected, self.headers.get("X-Docfactory-Signature", ""))
                receiver.requests.append({"path": self.path, "signed": signed,
                                          "headers": dict(self.headers),
                                          "json": json.loads(body)})
                status = 401 if not signed else (receiver.script.get(self.path) or [200]).pop(0)
                if status == 200:
                    receiver.accepted.append(self.headers["Idempotency-Key"])
                answer = json.dumps({"id": f"rcv-{len(receiver.requests)}"}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    found = Receiver(SECRET)
    yield found
    found.close()


def webhook_job(folder: Path, sample_dir: Path, urls: dict[str, str]):
    """The renewal notice as PDF + webhook, one customer per entry of ``urls``."""
    with (sample_dir / "customers.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    source = folder / "customers.csv"
    folder.mkdir(parents=True, exist_ok=True)
    with source.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, [*rows[0], "webhook_url"])
        writer.writeheader()
        for n, (key, url) in enumerate(urls.items()):
            writer.writerow(dict(rows[n], customer_id=key, locale="en", webhook_url=url))
    data = tomllib.loads((REPO / "jobs" / "renewal_notice.toml").read_text(encoding="utf-8"))
    for section in ("routing", "email", "sms"):
        data.pop(section)
    data.update(channels=["pdf", "webhook"], source={"type": "csv", "path": str(source)},
                webhook={"link_base": LINK_BASE})
    data["print"] = {"enabled": False}
    data["schema"]["fields"]["webhook_url"] = {"type": "string", "required": False}
    path = folder / "renewal_webhook.toml"
    path.write_text(tomli_w.dumps(data), encoding="utf-8")
    return load_job(path)


def run(job, settings: Settings):
    return run_job(job, settings, RunOptions(period=PERIOD), InlineExecutor())


def test_signed_notifications_retry_5xx_refuse_4xx_and_a_rerun_sends_nothing_twice(
        tmp_path: Path, sample_dir: Path, settings: Settings, receiver: Receiver) -> None:
    job = webhook_job(tmp_path / "job", sample_dir, {
        "C000401": receiver.url("/hooks/a"), "C000402": receiver.url("/hooks/busy"),
        "C000403": receiver.url("/hooks/gone"), "C000404": "ftp://example.com/x"})
    receiver.script = {"/hooks/busy": [503, 200], "/hooks/gone": [410]}
    settings = settings.with_overrides(webhook_secret=SECRET)
    report = run(job, settings)
    webhook = report.as_dict()["channels"]["webhook"]
    assert (webhook["sent"], webhook["failed_permanent"]) == (2, 1)
    assert report.counts.failed == 2  # the 410, and the record without a usable URL
    failures = {f["key"]: f["reason"] for f in
                map(json.loads, Path(report.failures_file).read_text().splitlines())}
    assert "HTTP 410" in failures["C000403"]
    assert "invalid webhook URL" in failures["C000404"]
    assert all(r["signed"] for r in receiver.requests)
    assert [r["path"] for r in receiver.requests].count("/hooks/busy") == 2  # 503, retried

    index = open_index(settings.default_index_url)
    store = open_store(settings.default_archive_url)
    (pdf,) = index.documents.entries(record_key="C000401", channel="pdf")
    first = next(r for r in receiver.requests if r["path"] == "/hooks/a")
    assert first["json"] == {
        "id": first["headers"]["Idempotency-Key"], "event": "document.archived",
        "document_id": pdf.document_id, "job": job.name, "period": PERIOD,
        "document_type": job.document_type, "record_key": "C000401",
        "customer_id": "C000401",
        "link": f"{LINK_BASE}/api/documents/{pdf.document_id}/content"}
    # What was sent is archived as the channel's document, and its delivery row says "sent".
    (sent,) = index.documents.entries(record_key="C000401", channel="webhook")
    assert json.loads(store.get(sent.storage_key)) == first["json"]
    delivery = index.deliveries.get(first["headers"]["Idempotency-Key"])
    assert delivery is not None and delivery.status == "sent"
    assert delivery.message_id.startswith("rcv-")
    # The key signs; it is in no report, failure or index row.
    for path in (Path(report.failures_file), settings.runs_dir / report.run_id / "report.json"):
        assert SECRET not in path.read_text(encoding="utf-8")
    assert SECRET not in json.dumps(index.deliveries.where(), default=str)

    before = list(receiver.accepted)
    assert len(before) == len(set(before)) == 2
    again = run(job, settings)
    assert again.as_dict()["channels"]["webhook"]["skipped"] == 2
    # Only the refused one is tried again (its script is used up: accepted now).
    assert receiver.accepted[:2] == before and len(receiver.accepted) == 3
    assert len(set(receiver.accepted)) == 3
    index.close()


def test_without_a_signing_key_the_channel_fails_with_a_clear_reason(
        tmp_path: Path, sample_dir: Path, settings: Settings, receiver: Receiver) -> None:
    job = webhook_job(tmp_path / "job", sample_dir, {"C000501": receiver.url("/hooks/a")})
    report = run(job, settings)
    (failure,) = map(json.loads, Path(report.failures_file).read_text().splitlines())
    assert "FACTORY_WEBHOOK_SECRET" in failure["reason"]
    assert receiver.requests == []
