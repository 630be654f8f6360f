"""Servers the delivery tests talk to on loopback: a real SMTP server (aiosmtpd) and an HTTP
SMS gateway. Each listens on 127.0.0.1 on a free port, in a thread of its own; the fixtures
``smtp_server`` and ``sms_gateway`` in ``tests/conftest.py`` start and stop them per test.
"""

from __future__ import annotations

from typing import Any


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
