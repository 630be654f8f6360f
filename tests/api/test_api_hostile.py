"""The HTTP service under hostile requests (issue 14), on a real `docfactory serve` process:
bodies refused before authentication and over the limit with the server's memory flat,
sessions that end at logout, the login form's CSRF token, failed logins audited and throttled."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import httpx
import pytest

from factory.compliance import AuditLog
from tests.api.test_api import login_token
from tests.archive_fixtures import Server, copy_archive, make_keys, start_server

if TYPE_CHECKING:
    from tests.archive_fixtures import Built

LIMIT = 64 * 1024


@pytest.fixture(scope="module")
def served(golden_archive: Built, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[tuple[Built, Server, dict[str, str]]]:
    built = copy_archive(golden_archive, tmp_path_factory.mktemp("hostile") / "project")
    server = start_server(built, env={"FACTORY_API_MAX_BODY": str(LIMIT),
                                      "FACTORY_API_AUTH_FAILURES": "6"})
    deadline = time.monotonic() + 30  # "serving on" is printed just before uvicorn listens
    while time.monotonic() < deadline:
        try:
            httpx.get(f"{server.url}/login", timeout=5)
            break
        except httpx.TransportError:
            time.sleep(0.1)
    try:
        yield built, server, make_keys(built)
    finally:
        assert server.stop() == 0, "\n".join(server.lines[-20:])


def peak_rss_kib(server: Server) -> int:
    status = open(f"/proc/{server.process.pid}/status", encoding="ascii").read()  # noqa: SIM115
    return int(status.split("VmHWM:", 1)[1].split()[0])


def post_huge(server: Server, path: str, size: int, headers: dict[str, str],
              chunked: bool = False) -> tuple[int, float]:
    """POST ``size`` bytes (sent by a thread, as fast as the server takes them); returns the
    status line's code and how long the answer took."""
    parts = urlsplit(server.url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=60)
    head = [f"POST {path} HTTP/1.1", f"Host: {parts.netloc}", "Content-Type: application/json"]
    head += ["Transfer-Encoding: chunked"] if chunked else [f"Content-Length: {size}"]
    head += [f"{k}: {v}" for k, v in headers.items()]
    started = time.monotonic()
    sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode())

    def pump() -> None:
        block = b"{" * (1024 * 1024)
        sent = 0
        try:
            while sent < size:
                data = block if not chunked else b"%x\r\n%s\r\n" % (len(block), block)
                sock.sendall(data)
                sent += len(block)
            if chunked:
                sock.sendall(b"0\r\n\r\n")
        except OSError:
            pass  # the server answered and closed: the rest of the body is not wanted

    sender = threading.Thread(target=pump, daemon=True)
    sender.start()
    answer = b""
    while b"\r\n" not in answer:
        data = sock.recv(4096)
        if not data:
            break
        answer += data
    took = time.monotonic() - started
    sock.close()
    sender.join(30)
    return int(answer.split(b" ", 2)[1]), took


def test_bodies_are_refused_before_authentication_and_over_the_limit_memory_flat(
        served: tuple[Built, Server, dict[str, str]]) -> None:
    _built, server, keys = served
    before = peak_rss_kib(server)
    status, took = post_huge(server, "/api/exports", 300 * 1024 * 1024, {})
    grew = peak_rss_kib(server) - before
    assert grew < 40 * 1024, f"an unauthenticated body grew the server's memory by {grew} KiB"
    assert status == 401 and took < 10
    status, _ = post_huge(server, "/api/exports", 300 * 1024 * 1024, {}, chunked=True)
    assert status == 401
    auth = {"Authorization": f"Bearer {keys['compliance']}"}
    status, _ = post_huge(server, "/api/exports", 300 * 1024 * 1024, auth)
    assert status == 413  # by its Content-Length, nothing read
    status, _ = post_huge(server, "/api/exports", 300 * 1024 * 1024, auth, chunked=True)
    assert status == 413  # once the limit was passed
    grew = peak_rss_kib(server) - before
    assert grew < 40 * 1024, f"the server's peak memory grew by {grew} KiB"
    with httpx.Client(base_url=server.url) as client:  # a small body still works
        response = client.post("/api/exports", json={"customer": "C000001"}, headers=auth)
        assert response.status_code == 200 and response.content[:2] == b"PK"
        over = client.post("/api/exports", content=b" " * (LIMIT + 1), headers=auth)
        assert over.status_code == 413 and "over the limit" in over.json()["detail"]


def log_in(client: httpx.Client, key: str) -> httpx.Response:
    return client.post("/login", data={"key": key, "csrf": login_token(client)})


def test_logout_ends_the_session_on_the_server(
        served: tuple[Built, Server, dict[str, str]]) -> None:
    _built, server, keys = served
    with httpx.Client(base_url=server.url) as client:
        assert log_in(client, keys["compliance"]).status_code == 303
        cookie = client.cookies["docfactory_session"]
        assert client.get("/").status_code == 200
        assert client.post("/logout").status_code == 303
    with httpx.Client(base_url=server.url) as replay:  # the cookie, kept by an attacker
        replay.cookies.set("docfactory_session", cookie)
        response = replay.get("/")
        assert response.status_code == 401 and "session has ended" in response.text


def test_the_login_form_carries_a_csrf_token(
        served: tuple[Built, Server, dict[str, str]]) -> None:
    _built, server, keys = served
    with httpx.Client(base_url=server.url) as client:
        form = client.get("/login").text
        assert 'name="csrf" value="' in form
        # a cross-site form: no token, or a token without this browser's nonce cookie
        assert client.post("/login", data={"key": keys["compliance"]}).status_code == 403
        token = login_token(client)
    with httpx.Client(base_url=server.url) as other:
        refused = other.post("/login", data={"key": keys["compliance"], "csrf": token})
        assert refused.status_code == 403 and "docfactory_session" not in other.cookies


def test_failed_authentications_are_audited_without_the_key_and_throttled(
        served: tuple[Built, Server, dict[str, str]]) -> None:
    built, server, keys = served
    log = AuditLog(built.index())
    before = log.head()[0]
    wrong = keys["compliance"][:-6] + "AAAAAA"
    with httpx.Client(base_url=server.url) as client:
        assert log_in(client, wrong).status_code == 401
        statuses = [client.get("/api/whoami", headers={"Authorization": f"Bearer {wrong}"}
                               ).status_code for _ in range(8)]
        assert statuses[:5] == [401] * 5 and statuses[5:] == [429] * 3, statuses
        throttled = client.get("/api/whoami",
                               headers={"Authorization": f"Bearer {keys['compliance']}"})
        assert throttled.status_code == 429 and int(throttled.headers["Retry-After"]) >= 1
    new = [e for e in log.entries() if e.seq > before]
    failed = [e for e in new if e.action == "auth.failed"]
    assert len(failed) == 6 and all(e.outcome == "denied" for e in failed)
    assert [json.loads(e.details)["via"] for e in failed] == ["login form"] + ["bearer"] * 5
    assert failed[0].actor.startswith("client:127.0.0.1")
    assert json.loads(failed[1].details)["key_id"] == wrong.split("_")[1]
    assert [e.action for e in new].count("auth.throttled") == 1
    for entry in new:
        # the secret part (which may itself hold "_": split at the first two only)
        assert wrong.split("_", 2)[2] not in entry.details and "AAAAAA" not in entry.details
    assert log.verify().ok
