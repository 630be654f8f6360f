"""The peppol channel's transport against a real HTTP server on loopback playing the sender's
access point: it accepts, rejects with a reason, times out, answers 5xx then accepts; the
idempotency key makes the retry harmless and `find` proves the earlier send."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from factory.deliver.transport import TransportOptions, open_transport
from factory.errors import ConfigError, PermanentDeliveryError, RetryableDeliveryError
from factory.models import Message

UBL = (b"<?xml version='1.0' encoding='UTF-8'?>"
       b"<Invoice xmlns='urn:oasis:names:specification:ubl:schema:xsd:Invoice-2'/>")
TOKEN = "s3cret-token"


class AccessPoint(ThreadingHTTPServer):
    """Plays a Peppol access point: ``script`` is what the next POSTs answer."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.script: list[str] = []
        self.documents: dict[str, dict] = {}   # id -> {key, body, status, reason, polls}
        self.posts: list[dict] = []


class Handler(BaseHTTPRequestHandler):
    server: AccessPoint

    def log_message(self, *args: object) -> None:
        pass

    def _answer(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        server = self.server
        key = self.headers["Idempotency-Key"]
        server.posts.append({"key": key, "auth": self.headers.get("Authorization"),
                             "sender": self.headers["X-Peppol-Sender"],
                             "receiver": self.headers["X-Peppol-Receiver"], "body": body})
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            return self._answer(401, {"error": "bad token"})
        action = server.script.pop(0) if server.script else "accept"
        if action == "slow":
            time.sleep(1.5)
        if action == "5xx":
            return self._answer(503, {"error": "maintenance"})
        if action == "reject":
            return self._answer(422, {"reason": "PEPPOL-EN16931-R003: buyer reference missing"})
        for doc_id, doc in server.documents.items():  # the same key: the same document
            if doc["key"] == key:
                return self._answer(200, {"id": doc_id, "status": doc["status"]})
        doc_id = f"AP-{len(server.documents) + 1}"
        status = "rejected" if action == "reject-later" else "accepted"
        server.documents[doc_id] = {"key": key, "body": body, "status": status, "polls": 0,
                                    "reason": "receiver unknown in SMP"}
        return self._answer(202, {"id": doc_id, "status": "accepted"})

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        if parts.path.endswith("/documents"):
            key = parse_qs(parts.query)["idempotency_key"][0]
            for doc_id, doc in self.server.documents.items():
                if doc["key"] == key:
                    return self._answer(200, {"id": doc_id, "status": doc["status"]})
            return self._answer(404, {"error": "no such document"})
        doc = self.server.documents[parts.path.rsplit("/", 1)[1]]
        doc["polls"] += 1
        if doc["status"] == "accepted" and doc["polls"] >= 2:
            doc["status"] = "delivered"
        return self._answer(200, {"id": parts.path.rsplit("/", 1)[1], "status": doc["status"],
                                  "reason": doc["reason"]})


@pytest.fixture
def access_point() -> Iterator[AccessPoint]:
    server = AccessPoint()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def transport(server: AccessPoint, **options: object):
    host, port = server.server_address[:2]
    return open_transport(f"peppol+http://:{TOKEN}@{host}:{port}/api/v1",
                          TransportOptions("peppol", gateway={"timeout_seconds": 0.5,
                                                              "poll_interval_seconds": 0.05,
                                                              **options}))


def message(key: str = "invoice_run|2026-11|I000106|invoice|peppol") -> Message:
    return Message("peppol", key, "0245:2020317068", "0245:2022749619", UBL)


def test_accepts_and_receipts_the_message_id(access_point: AccessPoint) -> None:
    t = transport(access_point)
    receipt = t.send(message())
    assert (receipt.message_id, receipt.detail) == ("AP-1", "accepted")
    post = access_point.posts[0]
    assert post["body"] == UBL and post["key"] == message().key
    assert (post["sender"], post["receiver"]) == ("0245:2022749619", "0245:2020317068")
    assert TOKEN not in t.url and TOKEN not in repr(receipt)
    found = t.find(message().key)
    assert found is not None and found.message_id == "AP-1"
    assert t.find("another|key") is None


def test_polls_the_status_until_delivered(access_point: AccessPoint) -> None:
    receipt = transport(access_point, poll_seconds=5).send(message())
    assert (receipt.message_id, receipt.detail) == ("AP-1", "delivered")
    assert access_point.documents["AP-1"]["polls"] == 2


def test_rejects_with_the_access_points_reason(access_point: AccessPoint) -> None:
    access_point.script = ["reject"]
    with pytest.raises(PermanentDeliveryError, match="HTTP 422: PEPPOL-EN16931-R003"):
        transport(access_point).send(message())
    access_point.script = ["reject-later"]
    with pytest.raises(PermanentDeliveryError, match="rejected: receiver unknown in SMP"):
        transport(access_point, poll_seconds=5).send(message("k2"))


def test_a_timeout_is_retryable(access_point: AccessPoint) -> None:
    access_point.script = ["slow"]
    with pytest.raises(RetryableDeliveryError, match=r"timed out after 0\.5 s"):
        transport(access_point).send(message())


def test_5xx_then_accepts_once_under_the_same_key(access_point: AccessPoint) -> None:
    access_point.script = ["5xx"]
    t = transport(access_point)
    with pytest.raises(RetryableDeliveryError, match="HTTP 503: maintenance"):
        t.send(message())
    first = t.send(message())
    again = t.send(message())  # a resend after a crash: the access point drops it
    assert first.message_id == again.message_id == "AP-1"
    assert len(access_point.documents) == 1
    assert [p["key"] for p in access_point.posts] == [message().key] * 3


def test_a_bad_token_is_permanent_and_never_printed(access_point: AccessPoint) -> None:
    host, port = access_point.server_address[:2]
    t = open_transport(f"peppol+http://:wrong@{host}:{port}/api",
                       TransportOptions("peppol", gateway={"timeout_seconds": 0.5}))
    with pytest.raises(PermanentDeliveryError) as caught:
        t.send(message())
    assert "HTTP 401" in str(caught.value) and "wrong" not in str(caught.value)


def test_only_the_peppol_channel() -> None:
    with pytest.raises(ConfigError, match="peppol channel only"):
        open_transport("peppol+https://ap.example/api", TransportOptions("email"))
