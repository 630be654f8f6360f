"""The HTTP application: JSON API under /api, server-rendered pages everywhere else.

Takes an `ApiConfig` (settings, store and index URLs, jobs folder, executor); gives a FastAPI
app. Built here once per process: the index, the store, the `ComplianceService`, the job
policy, the run launcher and the session signer, kept on ``app.state.services``. Errors from
our exception tree become status codes (401, 403, 404, 409, 413, 400, 500) with a clear
message: JSON for /api, an HTML page for the pages. `RequestGuard` (factory.api.guard) runs
before every route: 429 for a client that failed to authenticate too often, 401 before any of
the body is read, 413 for a body over the limit. The OpenAPI document is served behind
authentication like everything else (``/api/openapi.json``; ``/docs`` for people).
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from factory.api.guard import FailureThrottle, RequestGuard
from factory.api.launcher import RunLauncher
from factory.api.security import Sessions
from factory.archive import RunConflict, open_index, open_store
from factory.archive.letters import LetterConflict
from factory.compliance import ComplianceService, JobPolicy
from factory.config import Settings
from factory.errors import (
    AuthenticationError,
    ConfigError,
    FactoryError,
    IntegrityError,
    LegalHoldError,
    LimitExceededError,
    NotFoundError,
    PermissionDeniedError,
    RecordError,
    RetryableArchiveError,
    RetryableError,
    SourceError,
)

#: Our errors, most specific first, and the status each becomes.
STATUS: list[tuple[type[FactoryError], int]] = [
    (AuthenticationError, 401),
    (PermissionDeniedError, 403),
    (NotFoundError, 404),
    (LimitExceededError, 413),
    (RunConflict, 409),
    (LetterConflict, 409),
    (RecordError, 422),
    (LegalHoldError, 409),
    (ConfigError, 400),
    (SourceError, 400),
    (IntegrityError, 500),
    (RetryableArchiveError, 503),
    (RetryableError, 503),  # worth sending again (an on-demand renderer process died)
    (FactoryError, 500),
]


@dataclass(frozen=True)
class ApiConfig:
    settings: Settings
    store_url: str
    index_url: str
    jobs_dir: Path
    executor: str = "pool"
    workers: int = 1
    max_runs: int = 2
    session_hours: float = 8.0
    secure_cookies: bool = False
    session_secret: bytes = field(default_factory=lambda: secrets.token_bytes(32), repr=False)
    #: /readyz checks this broker too; /metrics shows the depth of ``queue`` on it.
    broker_url: str | None = field(default=None, repr=False)
    queue: str | None = None
    #: When set, /metrics needs ``Authorization: Bearer <metrics_token>``.
    metrics_token: str | None = field(default=None, repr=False)
    #: Warm renderer processes for ``POST /api/documents`` (`factory.ondemand.warm`).
    ondemand_pool: int = 1


class Services:
    """Everything the routes share, built once per process."""

    def __init__(self, config: ApiConfig) -> None:
        self.config = config
        self.settings = config.settings.with_overrides(archive_url=config.store_url,
                                                       index_url=config.index_url)
        self.index = open_index(config.index_url)
        self.store = open_store(config.store_url)
        trust = None
        if config.settings.seal_trust:
            from factory.render.seal import load_trust

            trust = load_trust(config.settings.seal_trust, config.settings.root)
        from factory.render.seal_data import export_sealer

        self.compliance = ComplianceService(self.index, self.store,
                                            config.settings.export_max_bytes, trust,
                                            export_sealer(config.settings))
        self.policy = JobPolicy.of(config.settings.finance_document_types)
        self.launcher = RunLauncher(self.settings, self.index, config.executor, config.workers,
                                    config.max_runs)
        self.sessions = Sessions(config.session_secret, int(config.session_hours * 3600))
        self.throttle = FailureThrottle(config.settings.api_auth_failures)
        self.ondemand: Any = None  # an OnDemandService, built on first use (factory.api.ondemand)
        self.letters: Any = None  # a LetterDesk and its previews, built on first use (.letters)
        self.codes: Any = None  # pending one-time codes of /my (factory.api.mydocs)

    def close(self) -> None:
        if self.ondemand is not None:
            self.ondemand.close()
        self.launcher.close()
        self.index.close()


def status_of(exc: FactoryError) -> int:
    return next(code for kind, code in STATUS if isinstance(exc, kind))


def create_app(config: ApiConfig) -> FastAPI:
    from factory.api.health import health_router
    from factory.api.hooks import hooks_router
    from factory.api.letters import letters_router
    from factory.api.links import link_api_router, public_links_router
    from factory.api.mydocs import my_documents_router
    from factory.api.ondemand import ondemand_router
    from factory.api.pages import guard_page, login_page, page_router, public_router, render_page
    from factory.api.routes import api_router
    from factory.api.security import page_principal

    services = Services(config)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        services.close()

    app = FastAPI(title="docfactory", version="0.1.0", lifespan=lifespan,
                  description="Archived documents, runs and their reports. Every call needs an"
                              " API key (`docfactory keys create --role ...`), sent as"
                              " `Authorization: Bearer <key>` or `X-API-Key: <key>`.",
                  openapi_url=None, docs_url=None, redoc_url=None)
    app.state.services = services
    app.include_router(health_router())
    app.include_router(ondemand_router())  # before api_router: it ends with a catch-all
    app.include_router(link_api_router())
    app.include_router(public_links_router())  # GET /d/<token>: a customer's signed link
    app.include_router(my_documents_router())  # /my: a customer's list after a one-time code
    app.include_router(hooks_router())  # POST /hooks/sms-reports: HMAC-signed reports
    app.include_router(api_router())
    app.include_router(public_router())
    app.include_router(letters_router())  # before page_router: it ends with the catch-all
    app.include_router(page_router())  # last: it ends with the catch-all

    @app.exception_handler(FactoryError)
    async def factory_error(request: Request, exc: FactoryError) -> Response:
        code = status_of(exc)
        message = str(exc)
        headers = {"WWW-Authenticate": "Bearer"} if code == 401 else None
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": type(exc).__name__, "detail": message}, code,
                                headers=headers)
        if code == 401:
            return login_page(request, message, code)
        principal = None
        with contextlib.suppress(FactoryError):  # for the navigation bar, when signed in
            principal = page_principal(request)
        return render_page(request, "error.html", {"status": code, "error": message}, code,
                           principal=principal)

    # Before any route, and inside the security headers: throttle, authenticate, limit the body.
    app.add_middleware(RequestGuard, max_body=config.settings.api_max_body_bytes,
                       error_page=guard_page)

    @app.middleware("http")
    async def security_headers(request: Request, call_next: Any) -> Response:
        response: Response = await call_next(request)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Cache-Control", "no-store")
        html = response.headers.get("content-type", "").startswith("text/html")
        if html and request.url.path in ("/docs", "/api/docs"):
            # Swagger UI: its own files and the one inline script that starts it.
            response.headers.setdefault(
                "Content-Security-Policy",
                "default-src 'none'; script-src 'self' 'unsafe-inline';"
                " style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self';"
                " frame-ancestors 'none'; base-uri 'none'")
        elif html:
            response.headers.setdefault(
                "Content-Security-Policy",
                "default-src 'none'; style-src 'unsafe-inline'; img-src 'self';"
                " form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
        return response

    return app
