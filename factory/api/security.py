"""Who is calling: API keys in headers for /api, a signed session cookie for the web pages,
and the role check every route carries.

Takes the request; gives a `Principal` (the key's record and role) or raises
`AuthenticationError` (401) / `PermissionDeniedError` (403). Every route depends on a
`RoleCheck` (``api_role(...)`` or ``page_role(...)``), which itself depends on authentication;
a test walks ``app.routes`` and fails if any route lacks one. The session cookie holds the key
id, an expiry and an HMAC made with a per-process secret, never the key; it is HttpOnly and
SameSite=Strict, and every form POST also carries a CSRF token derived from the session.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass
from typing import Any

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from factory.compliance import Actor, Permission, Role
from factory.compliance import roles as role_rules
from factory.compliance.keys import KeyInfo, active_key, authenticate
from factory.errors import AuthenticationError, PermissionDeniedError

SESSION_COOKIE = "docfactory_session"

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
    """Signed, expiring session values: ``<key id>.<expiry>.<hmac>``."""

    def __init__(self, secret: bytes, lifetime_seconds: int) -> None:
        self.secret = secret
        self.lifetime = lifetime_seconds

    def _sign(self, payload: str) -> str:
        return hmac.new(self.secret, payload.encode(), hashlib.sha256).hexdigest()

    def issue(self, key_id: str) -> str:
        payload = f"{key_id}.{int(time.time()) + self.lifetime}"
        return f"{payload}.{self._sign(payload)}"

    def key_id(self, value: str | None) -> str:
        parts = (value or "").split(".")
        if len(parts) != 3 or not parts[1].isdigit():
            raise AuthenticationError("please log in with an API key")
        payload = f"{parts[0]}.{parts[1]}"
        if not hmac.compare_digest(self._sign(payload), parts[2]):
            raise AuthenticationError("please log in with an API key")
        if int(parts[1]) < time.time():
            raise AuthenticationError("your session has expired; please log in again")
        return parts[0]

    def csrf(self, value: str | None) -> str:
        return self._sign(f"csrf:{value or ''}")

    def check_csrf(self, request: Request, token: str) -> None:
        expected = self.csrf(request.cookies.get(SESSION_COOKIE))
        if not token or not hmac.compare_digest(expected, token):
            raise PermissionDeniedError("the form is stale or was not sent from this site;"
                                        " reload the page and try again")


def services(request: Request) -> Any:
    return request.app.state.services


def api_principal(request: Request,
                  bearer: HTTPAuthorizationCredentials | None = Depends(_bearer),
                  header: str | None = Depends(_header)) -> Principal:
    """Authenticate an API call by its key (``Authorization: Bearer`` or ``X-API-Key``)."""
    token = bearer.credentials if bearer is not None else header
    return Principal(authenticate(services(request).index, token))


def page_principal(request: Request) -> Principal:
    """Authenticate a web page by its session cookie; the key must still be active."""
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
