"""Shared fixtures: settings pointing at a temporary work folder, sample data, job files."""

from __future__ import annotations

import io
import tomllib
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from fontTools.ttLib import TTFont
from pypdf import PdfReader

from factory.config import Settings, load_settings
from factory.jobs import JobSpec, load_job
from factory.samples.customers import generate

REPO = Path(__file__).resolve().parents[1]
STATEMENT_JOB = REPO / "jobs" / "monthly_statements.toml"
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"

#: The archive, PostgreSQL and server fixtures of the compliance, API and cluster tests.
pytest_plugins = ["tests.archive_fixtures", "tests.fixtures_cluster"]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """The repository's templates and assets, a fresh work folder per test."""
    return load_settings(REPO, {}, var_dir=str(tmp_path / "var"), workers=1)


@pytest.fixture(scope="session")
def sample_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Twelve reproducible customers as CSV, JSONL and SQLite."""
    out = tmp_path_factory.mktemp("sample")
    for fmt in ("csv", "jsonl", "sqlite"):
        generate(12, out, seed=7, period="2026-11", fmt=fmt)
    return out


def write_job(folder: Path, filename: str = "job.toml", **changes: Any) -> Path:
    """The repository's statement job with top-level tables/keys replaced by ``changes``."""
    data = tomllib.loads(STATEMENT_JOB.read_text(encoding="utf-8"))
    for key, value in changes.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / filename
    path.write_text(tomli_w.dumps(data), encoding="utf-8")
    return path


def csv_source(customers: Path, transactions: Path | None, delimiter: str = ",") -> dict:
    source: dict[str, Any] = {"type": "csv", "path": str(customers), "delimiter": delimiter}
    if transactions is not None:
        source["items"] = {"path": str(transactions), "key": "customer_id"}
    return source


@pytest.fixture
def sample_job(tmp_path: Path, sample_dir: Path) -> JobSpec:
    path = write_job(tmp_path / "jobs", source=csv_source(sample_dir / "customers.csv",
                                                          sample_dir / "transactions.csv"))
    return load_job(path)


def pdf_text(data: bytes) -> str:
    reader = PdfReader(io.BytesIO(data))
    return "\n".join(page.extract_text() for page in reader.pages)


def pdf_fonts(data: bytes) -> set[str]:
    """Full names of the font programs embedded for every page (read with fontTools)."""
    reader = PdfReader(io.BytesIO(data))
    names: set[str] = set()
    for page in reader.pages:
        fonts = page["/Resources"].get_object().get("/Font", {})
        for ref in fonts.values():
            font = ref.get_object()
            if "/DescendantFonts" in font:
                font = font["/DescendantFonts"][0].get_object()
            program = font["/FontDescriptor"].get_object()["/FontFile2"].get_object()
            names.add(TTFont(io.BytesIO(program.get_data()))["name"].getDebugName(4))
    return names


# -- delivery: a real SMTP server and a real HTTP SMS gateway on loopback ---------------------

class SmtpRecorder:
    """An aiosmtpd handler that keeps every message; ``replies`` scripts the next DATA replies
    (e.g. ["451 4.3.0 try later"]) before it goes back to 250."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.replies: list[str] = []
        self.peers: set[tuple[str, int]] = set()
        self.logins: list[str] = []
        self.quits = 0  # sessions the client ended with QUIT

    async def handle_DATA(self, server, session, envelope) -> str:
        self.peers.add(tuple(session.peer[:2]))
        tls = server.transport.get_extra_info("ssl_object") is not None
        if self.replies:
            return self.replies.pop(0)
        self.messages.append({"from": envelope.mail_from, "to": list(envelope.rcpt_tos),
                              "data": envelope.original_content or envelope.content,
                              "peer": session.peer, "tls": tls})
        return "250 2.0.0 Ok: queued"

    async def handle_QUIT(self, server, session, envelope) -> str:
        self.quits += 1
        return "221 Bye"

    def authenticate(self, server, session, envelope, mechanism, auth_data):
        from aiosmtpd.smtp import AuthResult

        ok = auth_data.login == b"mailer" and auth_data.password == b"s3cret"
        if ok:
            self.logins.append(auth_data.login.decode())
        return AuthResult(success=ok, handled=False)


class SmtpServer:
    """aiosmtpd on 127.0.0.1, a free port, in its own thread with its own event loop."""

    def __init__(self, *, tls: str = "none", ca: Any = None, auth: bool = False) -> None:
        import asyncio
        import ssl
        import threading

        from aiosmtpd.smtp import SMTP

        self.handler = SmtpRecorder()
        context = None
        if tls != "none":
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
        self.loop = asyncio.new_event_loop()

        def factory() -> SMTP:
            kwargs: dict[str, Any] = {"hostname": "mx.test", "loop": self.loop}
            if tls == "starttls":
                kwargs["tls_context"] = context
            if auth:
                kwargs.update(authenticator=self.handler.authenticate, auth_required=True,
                              auth_require_tls=tls != "none",
                              auth_exclude_mechanism=["LOGIN"])
            return SMTP(self.handler, **kwargs)

        server = self.loop.run_until_complete(self.loop.create_server(
            factory, "127.0.0.1", 0, ssl=context if tls == "implicit" else None))
        self.server = server
        self.port = server.sockets[0].getsockname()[1]
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    @property
    def messages(self) -> list[dict[str, Any]]:
        return self.handler.messages

    def url(self, scheme: str = "smtp", query: str = "", userinfo: str = "") -> str:
        return f"{scheme}://{userinfo}127.0.0.1:{self.port}{'?' + query if query else ''}"

    def close(self) -> None:
        import asyncio

        async def stop() -> None:
            self.server.close()
            others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in others:
                task.cancel()
            await asyncio.gather(*others, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture
def smtp_server():
    server = SmtpServer()
    yield server
    server.close()


@pytest.fixture(scope="session")
def tls_ca(tmp_path_factory: pytest.TempPathFactory):
    """A private CA (trustme); ``ca.path`` is its certificate for the client (cafile=)."""
    import trustme

    ca = trustme.CA()
    ca.path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(ca.path))
    return ca


class Gateway:
    """A stand-in HTTP SMS gateway on 127.0.0.1: records every request; ``script`` holds the
    next answers as (status, body) or ("sleep", seconds); it delivers each idempotency key
    once, like a gateway that honours Idempotency-Key."""

    def __init__(self) -> None:
        import json
        import threading
        import time
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.requests: list[dict[str, Any]] = []
        self.delivered: dict[str, dict[str, Any]] = {}
        self.script: list[tuple[Any, Any]] = []
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                gateway.requests.append({"path": self.path, "headers": dict(self.headers),
                                         "json": body})
                status, answer = gateway.script.pop(0) if gateway.script else (200, None)
                if status == "sleep":
                    time.sleep(answer)
                    status, answer = 200, None
                if status == 200:
                    key = self.headers.get("Idempotency-Key")
                    gateway.delivered.setdefault(key, body)
                    answer = {"id": f"gw-{len(gateway.delivered)}", "status": "accepted"}
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, token: str = "tok3n") -> str:
        return f"http://:{token}@127.0.0.1:{self.port}/v1/sms"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def sms_gateway():
    gateway = Gateway()
    yield gateway
    gateway.close()
