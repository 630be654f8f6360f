"""``/healthz``, ``/readyz`` and ``/metrics``: what load balancers and Prometheus ask.

Takes the app's `Services` (its open index and store) and the broker URL of `ApiConfig`;
gives three routes served without an API key (`factory.api.guard.PUBLIC`):

- ``GET /healthz``: 200 ``{"status": "ok"}`` while the process serves requests.
- ``GET /readyz``: 200 when the index, the store and (when configured) the broker answer, else
  503; the body names each check and says ``ok`` or ``down``, nothing more (no URL, no error).
- ``GET /metrics``: the Prometheus exposition (`factory.observe.metrics`), every process's
  samples in multiprocess mode. With ``metrics_token`` set, it needs
  ``Authorization: Bearer <token>`` (compared in constant time) and answers 401 without.
"""

from __future__ import annotations

import hmac
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from factory.ops.health import Check, check_broker, check_index, check_store, readiness


def readiness_checks(services: Any) -> list[Check]:
    checks = [check_index(services.index), check_store(services.store)]
    broker = services.config.broker_url
    if broker:
        checks.append(check_broker(broker))
    return checks


def broker_depth(broker_url: str, queue: str) -> Any:
    """A function giving the number of tasks waiting on ``queue`` (Celery's Redis list)."""

    def read() -> int:
        import redis

        client: Any = redis.Redis.from_url(broker_url, socket_connect_timeout=2,
                                           socket_timeout=2)
        try:
            return int(client.llen(queue))
        finally:
            client.close()

    return read


def health_router() -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz")
    def readyz(request: Request) -> JSONResponse:
        ready, body = readiness(readiness_checks(request.app.state.services))
        return JSONResponse(body, 200 if ready else 503)

    @router.get("/metrics")
    def metrics(request: Request) -> Response:
        services = request.app.state.services
        token = services.config.metrics_token
        if token:
            given = request.headers.get("authorization", "")
            if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
                return JSONResponse({"error": "AuthenticationError",
                                     "detail": "/metrics needs its bearer token"}, 401,
                                    headers={"WWW-Authenticate": "Bearer"})
        from factory.observe.metrics import QueueDepth, enabled, exposition

        if not enabled():
            return JSONResponse({"error": "ConfigError",
                                 "detail": "metrics need the observe extra:"
                                           " pip install 'docfactory[observe]'"}, 501)
        extra = []
        if services.config.broker_url and services.config.queue:
            extra.append(QueueDepth(services.config.queue,
                                    broker_depth(services.config.broker_url,
                                                 services.config.queue)))
        body, content_type = exposition(*extra)
        return Response(body, media_type=content_type)

    return router
