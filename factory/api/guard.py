"""What every HTTP request passes before a route runs: the client's throttle, authentication from
the headers alone, then the body limit; the body is read only after all three.

Takes the ASGI request and the app's services; gives 429 (this client failed to authenticate
too often in the last minute), 401 (no valid key or session; nothing of the body read) or 413
(a body over ``api_max_body_bytes``, by its Content-Length or once that many bytes arrived),
or passes the request on with its body, read here (at most the limit) and replayed, and the
principal found in ``scope["state"]`` for `factory.api.security` to reuse. FastAPI would read and
parse a body before any dependency runs, so this cannot be a dependency: a 300 MB body to an
unauthenticated route used to be read whole before its 401.

A failed authentication (a key or a session cookie that was presented and is not valid, or a
wrong key on the login form) is written to the audit log with the client's address, never with
what was presented beyond a key's public id; the client's failures are counted in a sliding
minute (`FailureThrottle`), and past the limit it gets 429 with Retry-After, audited once.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from anyio import to_thread
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from factory.api.security import SESSION_COOKIE, Principal, services
from factory.compliance import Actor
from factory.compliance.keys import active_key, authenticate
from factory.errors import AuthenticationError, FactoryError

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

#: The only routes anyone may call without a key (their bodies are still limited).
PUBLIC = {("GET", "/login"), ("POST", "/login"), ("POST", "/logout"),
          ("GET", "/healthz"), ("GET", "/readyz"), ("GET", "/metrics")}  # factory.api.health
#: A customer's own documents after a one-time code (`factory.api.mydocs` checks the code,
#: and counts a wrong one against the client like a failed login).
PUBLIC_CUSTOMER = {("GET", "/my"), ("POST", "/my"), ("POST", "/my/code")}
#: Paths under which GET needs no key: a customer's signed document link (`factory.api.links`
#: checks the link itself, and counts a forged one against the client like a failed login).
PUBLIC_GET_PREFIXES = ("/d/",)
#: Webhooks that authenticate by an HMAC over their body (`factory.api.hooks`), not a key.
PUBLIC_HOOKS = {("POST", "/hooks/sms-reports")}
WINDOW_SECONDS = 60.0
MAX_CLIENTS = 10_000  # clients tracked at once; the oldest are forgotten first


class FailureThrottle:
    """Failed authentications per client in a sliding window; thread-safe."""

    def __init__(self, limit: int, window: float = WINDOW_SECONDS) -> None:
        self.limit = limit
        self.window = window
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, client: str, now: float) -> deque[float]:
        times = self._failures.get(client)
        if times is None:
            return deque()
        while times and times[0] <= now - self.window:
            times.popleft()
        if not times:
            del self._failures[client]
        return times

    def retry_after(self, client: str) -> float | None:
        """Seconds until ``client`` may try again, or None when it may now."""
        now = time.monotonic()
        with self._lock:
            times = self._recent(client, now)
            if len(times) < self.limit:
                return None
            return max(times[0] + self.window - now, 1.0)

    def failed(self, client: str) -> bool:
        """Count one failure; True when it is the one that reaches the limit."""
        now = time.monotonic()
        with self._lock:
            times = self._recent(client, now)
            if client not in self._failures:
                if len(self._failures) >= MAX_CLIENTS:
                    del self._failures[next(iter(self._failures))]
                self._failures[client] = times
            times.append(now)
            return len(times) == self.limit


def client_of(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


def audit_failure(request: Request, via: str, key_id: str | None = None,
                  action: str = "auth.failed") -> None:
    """One audit entry for a failed (or throttled) authentication; never the presented key."""
    details: dict[str, Any] = {"via": via, "method": request.method,
                               "path": request.url.path[:200]}
    if key_id:
        details["key_id"] = key_id
    services(request).compliance.audit.record(
        Actor(f"client:{client_of(request.scope)}", "anonymous"), action, outcome="denied",
        details=details)


def presented_key_id(token: str) -> str | None:
    """The public id part of something shaped like a key (``dfk_<id>_<secret>``), else None."""
    parts = token.strip().split("_")
    if len(parts) >= 3 and parts[0] == "dfk" and len(parts[1]) == 12 and all(
            c in "0123456789abcdef" for c in parts[1]):
        return parts[1]
    return None


def note_failure(request: Request, via: str, token: str | None) -> None:
    """Audit a failed authentication and count it against the client (sync: call in a thread)."""
    found = services(request)
    audit_failure(request, via, presented_key_id(token or ""))
    if found.throttle.failed(client_of(request.scope)):
        audit_failure(request, via, action="auth.throttled")


def _credentials(request: Request) -> tuple[str, str | None]:
    """(how, what) the request presents: an API key from a header, or the session cookie."""
    if request.url.path.startswith("/api/"):
        header = request.headers.get("authorization", "")
        if header[:7].lower() == "bearer ":
            return "bearer", header[7:].strip() or None
        return "x-api-key", request.headers.get("x-api-key") or None
    return "session", request.cookies.get(SESSION_COOKIE) or None


def _authenticate(request: Request) -> Principal:
    """The caller, from headers and cookies only; audits and counts a presented bad credential."""
    found = services(request)
    via, token = _credentials(request)
    try:
        if via == "session":
            return Principal(active_key(found.index, found.sessions.key_id(token)))
        return Principal(authenticate(found.index, token))
    except AuthenticationError:
        if token and (via != "session" or found.sessions.forged(token)):
            note_failure(request, via, token if via != "session" else None)
        raise


class RequestGuard:
    """Pure ASGI middleware: throttle, authenticate, limit, then call the app."""

    def __init__(self, app: Any, max_body: int, error_page: Callable[..., Response]) -> None:
        self.app = app
        self.max_body = max_body
        self.error_page = error_page  # (request, status, message) -> Response, for the pages

    def _error(self, request: Request, status: int, kind: str, message: str,
               headers: dict[str, str] | None = None) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": kind, "detail": message}, status, headers=headers)
        response = self.error_page(request, status, message)
        response.headers.update(headers or {})
        return response

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        rejected = await self._check(request)
        if rejected is not None:
            await rejected(scope, receive, send)
            return
        body, too_large = await self._read_body(request, receive)
        if too_large:
            await self._too_large(request)(scope, receive, send)
            return
        await self.app(scope, _replay(body, receive), send)

    async def _check(self, request: Request) -> Response | None:
        retry = services(request).throttle.retry_after(client_of(request.scope))
        if retry is not None:
            return self._error(request, 429, "TooManyRequests",
                               "too many failed authentications from this address; try again"
                               f" in {int(retry) + 1} s", {"Retry-After": str(int(retry) + 1)})
        route = (request.method, request.url.path)
        if route not in PUBLIC | PUBLIC_HOOKS | PUBLIC_CUSTOMER and not (
                request.method in ("GET", "HEAD")
                and request.url.path.startswith(PUBLIC_GET_PREFIXES)):
            try:
                principal = await to_thread.run_sync(_authenticate, request)
            except AuthenticationError as exc:
                return self._error(request, 401, "AuthenticationError", str(exc),
                                   {"WWW-Authenticate": "Bearer"})
            except FactoryError as exc:
                return self._error(request, 503, type(exc).__name__, str(exc))
            request.scope.setdefault("state", {})["principal"] = principal
        length = request.headers.get("content-length", "")
        if length.isdigit() and int(length) > self.max_body:
            return self._too_large(request)
        return None

    def _too_large(self, request: Request) -> Response:
        return self._error(request, 413, "LimitExceededError",
                           f"the request body is over the limit of {self.max_body:,} bytes"
                           " (FACTORY_API_MAX_BODY)")

    async def _read_body(self, request: Request, receive: Receive) -> tuple[bytes, bool]:
        if request.method in ("GET", "HEAD", "OPTIONS") and \
                not request.headers.get("content-length") and \
                not request.headers.get("transfer-encoding"):
            return b"", False
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break  # the client went away; the app will see it on its own receive
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                return b"", True
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks), False


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
