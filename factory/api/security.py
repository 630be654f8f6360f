"""Who is calling: API keys in headers for /api, a signed session cookie for the web pages,
and the role check every route carries.

Takes the request; gives a `Principal` (the key's record and role) or raises
`AuthenticationError` (401) / `PermissionDeniedError` (403). Every route depends on a
`RoleCheck` (``api_role(...)`` or ``page_role(...)``), which itself depends on authentication;
a test walks ``app.routes`` and fails if any route lacks one. The session cookie holds a random
session id and its HMAC (per-process secret), never the key; the server keeps the sessions and
ends one at logout. The cookie is HttpOnly and SameSite=Strict; every form POST also carries a
CSRF token derived from the session, and the login form one tied to a nonce cookie.
`factory.api.guard` authenticates each request before its body is read; the principal it found
is reused here (``request.state.principal``).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from factory.compliance import Actor, Permission, Role
from factory.compliance import roles as role_rules
from factory.compliance.keys import KeyInfo, active_key, authenticate
from factory.errors import AuthenticationError, PermissionDeniedError

if TYPE_CHECKING:  # app.py imports this module
    from factory.api.app import Services

SESSION_COOKIE = "docfactory_session"
LOGIN_COOKIE = "docfactory_login"

_bearer = HTTPBearer(auto_error=False, description="Authorization: Bearer <API key>")
_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="X-API-Key: <API key>")


@dataclass(frozen=True)
class Principal:
    key: KeyInfo

    @property
    def role(self) -> Role:
        return self.key.role

    @property
    def actor(self) -> Actor:
        return Actor(self.key.actor_id, self.key.role.value)


class Sessions:
    """Sessions kept on the server. The cookie is ``<session id>.<hmac>``; the server maps the
    id to its key id and expiry, so `revoke` (logout) ends a session at once, and a cookie
    outlives neither its logout nor a restart of the server (the map lives in this process,
    like the secret). The login form has its own token, tied to a nonce cookie (login CSRF)."""

    def __init__(self, secret: bytes, lifetime_seconds: int) -> None:
        self.secret = secret
        self.lifetime = lifetime_seconds
        self._live: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def _sign(self, payload: str) -> str:
        return hmac.new(self.secret, payload.encode(), hashlib.sha256).hexdigest()

    def issue(self, key_id: str) -> str:
        session_id = secrets.token_urlsafe(24)
        now = time.time()
        with self._lock:
            for old, (_key, until) in list(self._live.items()):
                if until < now:
                    del self._live[old]
            self._live[session_id] = (key_id, now + self.lifetime)
        return f"{session_id}.{self._sign(session_id)}"

    def _session_id(self, value: str | None) -> str | None:
        """The id of a cookie whose signature holds, else None."""
        parts = (value or "").split(".")
        if len(parts) != 2 or not hmac.compare_digest(self._sign(parts[0]), parts[1]):
            return None
        return parts[0]

    def forged(self, value: str | None) -> bool:
        """A cookie was sent, but not one this server signed."""
        return bool(value) and self._session_id(value) is None

    def key_id(self, value: str | None) -> str:
        session_id = self._session_id(value)
        if session_id is None:
            raise AuthenticationError("please log in with an API key")
        with self._lock:
            found = self._live.get(session_id)
            if found is not None and found[1] < time.time():
                del self._live[session_id]
                raise AuthenticationError("your session has expired; please log in again")
        if found is None:
            raise AuthenticationError("your session has ended; please log in again")
        return found[0]

    def revoke(self, value: str | None) -> bool:
        """End the session of cookie ``value``; True when there was one."""
        session_id = self._session_id(value)
        with self._lock:
            return session_id is not None and self._live.pop(session_id, None) is not None

    def csrf(self, value: str | None) -> str:
        return self._sign(f"csrf:{value or ''}")

    def check_csrf(self, request: Request, token: str) -> None:
        expected = self.csrf(request.cookies.get(SESSION_COOKIE))
        if not token or not hmac.compare_digest(expected, token):
            raise PermissionDeniedError("the form is stale or was not sent from this site;"
                                        " reload the page and try again")

    @staticmethod
    def login_nonce() -> str:
        return secrets.token_urlsafe(24)

    def login_token(self, nonce: str) -> str:
        return self._sign(f"login:{nonce}")

    def check_login(self, request: Request, token: str) -> None:
        """The login form came from our own page: its token matches the nonce cookie."""
        nonce = request.cookies.get(LOGIN_COOKIE)
        if not nonce or not token or not hmac.compare_digest(self.login_token(nonce), token):
            raise PermissionDeniedError("the login form is stale or was not sent from this"
                                        " site; reload the page and try again")


def services(request: Request) -> Services:
    shared: Services = request.app.state.services  # set by create_app
    return shared


def api_principal(request: Request,
                  bearer: HTTPAuthorizationCredentials | None = Depends(_bearer),
                  header: str | None = Depends(_header)) -> Principal:
    """Authenticate an API call by its key (``Authorization: Bearer`` or ``X-API-Key``)."""
    found = getattr(request.state, "principal", None)
    if isinstance(found, Principal):
        return found
    token = bearer.credentials if bearer is not None else header
    return Principal(authenticate(services(request).index, token))


def page_principal(request: Request) -> Principal:
    """Authenticate a web page by its session cookie; the key must still be active."""
    found = getattr(request.state, "principal", None)
    if isinstance(found, Principal):
        return found
    key_id = services(request).sessions.key_id(request.cookies.get(SESSION_COOKIE))
    return Principal(active_key(services(request).index, key_id))


class RoleCheck:
    """A dependency that admits only principals whose role has every one of ``permissions``
    (none: any valid key). Denials are written to the audit log."""

    def __init__(self, *permissions: Permission) -> None:
        self.permissions = permissions

    def check(self, request: Request, principal: Principal) -> Principal:
        for permission in self.permissions:
            if not role_rules.allows(principal.role, permission):
                services(request).compliance.audit.record(
                    principal.actor, "access.denied", outcome="denied",
                    details={"permission": permission.value, "method": request.method,
                             "path": request.url.path[:200]})
                role_rules.check(principal.role, permission)
        return principal


class ApiRole(RoleCheck):
    def __call__(self, request: Request,
                 principal: Principal = Depends(api_principal)) -> Principal:
        return self.check(request, principal)


class PageRole(RoleCheck):
    def __call__(self, request: Request,
                 principal: Principal = Depends(page_principal)) -> Principal:
        return self.check(request, principal)


def api_role(*permissions: Permission) -> Any:
    return Depends(ApiRole(*permissions))


def page_role(*permissions: Permission) -> Any:
    return Depends(PageRole(*permissions))


class AnyPageRole(PageRole):
    """A page for principals whose role has at least one of ``permissions`` (a document's page:
    compliance searching the archive, or operations reissuing it)."""

    def check(self, request: Request, principal: Principal) -> Principal:
        if any(role_rules.allows(principal.role, p) for p in self.permissions):
            return principal
        return super().check(request, principal)  # audited and refused as for the first


def page_role_any(*permissions: Permission) -> Any:
    return Depends(AnyPageRole(*permissions))
