"""``POST /hooks/sms-reports``: the SMS gateway's delivery reports, verified by HMAC.

Takes a JSON body ``{"reports": [{"key": <idempotency key of the send>, "status": ...,
"reason": ...}]}`` signed with ``X-Signature: sha256=<hex HMAC-SHA256 of the raw body>`` under
``FACTORY_SMS_WEBHOOK_SECRET``; gives ``{"received": n, "recorded": m}``. A report whose status
says the message never reached the phone (undeliverable, failed, rejected, expired) marks the
send ``bounced`` with the gateway's reason (`factory.archive.bounces`); ``docfactory fallbacks``
then sends the record, once, over its route's next channel. Reports received twice record
nothing the second time. A bad signature is 401, audited and counted against the client like
a failed login; no key or cookie is involved (`factory.api.guard` lets this path through).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from factory.api.guard import note_failure
from factory.api.security import services
from factory.compliance import Actor

PATH = "/hooks/sms-reports"
UNDELIVERED = {"undeliverable", "undelivered", "failed", "rejected", "expired"}
GATEWAY = Actor("gateway:sms", "gateway")


def hooks_router() -> APIRouter:
    router = APIRouter()

    @router.post(PATH, include_in_schema=False)
    async def sms_reports(request: Request) -> JSONResponse:
        svc = services(request)
        secret = svc.settings.sms_webhook_secret
        if not secret:
            return JSONResponse({"error": "NotConfigured", "detail": "delivery reports need"
                                 " FACTORY_SMS_WEBHOOK_SECRET"}, 404)
        body = await request.body()
        given = request.headers.get("x-signature", "").removeprefix("sha256=").strip()
        expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        if not given or not hmac.compare_digest(given, expected):
            note_failure(request, "hmac", None)
            return JSONResponse({"error": "AuthenticationError",
                                 "detail": "the report's signature does not verify"}, 401)
        try:
            reports = _reports(json.loads(body))
        except (ValueError, TypeError) as exc:
            return JSONResponse({"error": "InputError", "detail": f"not a report: {exc}"}, 400)
        recorded = 0
        for report in reports:
            status = str(report.get("status", "")).lower()
            if status not in UNDELIVERED:
                continue
            key = str(report.get("key", ""))[:64]
            reason = str(report.get("reason") or status)[:300]
            if svc.index.deliveries.mark_bounced(key, f"undeliverable (gateway report): {reason}"):
                recorded += 1
                svc.compliance.audit.record(GATEWAY, "delivery.report",
                                            details={"key": key, "status": status,
                                                     "reason": reason})
        return JSONResponse({"received": len(reports), "recorded": recorded})

    return router


def _reports(data: Any) -> list[dict[str, Any]]:
    items = data.get("reports", [data]) if isinstance(data, dict) else data
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise ValueError("expected {'reports': [{'key', 'status', 'reason'}]}")
    return items[:1000]
