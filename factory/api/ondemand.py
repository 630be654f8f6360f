"""``POST /api/documents``: one document for one record of a job, rendered now.

Takes an API key with ``documents:render`` (operations, service), a JSON body ``{"job",
"record", "period"?, "reason"?}`` and optionally ``Idempotency-Key`` and ``Accept:
application/pdf``; gives 201 (created) or 200 (the same document again: a retried request, or
the record's document already archived for that period) with the document id and a link, or
the PDF itself. The record is validated against the job's schema (422 naming the field), then
routed, rendered, archived, indexed and delivered by `factory.ondemand` (the batch pipeline).
Authentication happens before the body is read (`factory.api.guard`); each request is audited
(``document.render``).
"""

from __future__ import annotations

import threading
from typing import Any

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from factory.api.catalog import load_catalog
from factory.api.links import issue_link
from factory.api.security import Principal, api_principal, api_role, services
from factory.compliance import Permission
from factory.compliance import query as q
from factory.errors import ConfigError, NotFoundError, RecordError
from factory.models import ChannelStatus
from factory.ondemand import OnDemandResult, OnDemandService, RenderRequest
from factory.ondemand.letters import letter_jobs

_LOCK = threading.Lock()


class DocumentBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    job: str = Field(max_length=64, description="Job name (see GET /api/jobs).")
    record: dict[str, Any] = Field(description="One record, as the job's [schema] describes"
                                   " it (line items as a list under their field).")
    period: str | None = Field(None, max_length=10, description="YYYY-MM or YYYY-MM-DD"
                               " (default: today): the document's period.")
    reason: str = Field("", max_length=500, description="Render a new revision when the"
                        " record's document for the period is archived already, and why"
                        " (audited); refused for invoices.")


def ondemand_service(request: Request) -> OnDemandService:
    """The app's warm on-demand service, built on first use and closed with the app."""
    svc = services(request)
    with _LOCK:
        if svc.ondemand is None:
            # Renderers in warm worker processes: requests render on every core.
            svc.ondemand = OnDemandService(svc.settings, svc.config.ondemand_pool,
                                           processes=True)
        found: OnDemandService = svc.ondemand
    return found


def ondemand_router() -> APIRouter:
    router = APIRouter(prefix="/api", dependencies=[Depends(api_principal)])

    @router.post("/documents", summary="Render one document for one record now",
                 status_code=201, responses={
                     200: {"description": "The same document again (retry, or archived)"},
                     201: {"description": "Rendered, archived and delivered now",
                           "content": {"application/pdf": {}}},
                     422: {"description": "The record does not fit the job's schema"}})
    def render(request: Request, body: DocumentBody,
               idempotency_key: str | None = Header(None, max_length=200),
               accept: str | None = Header(None, max_length=500),
               principal: Principal = api_role(Permission.DOCUMENTS_RENDER)) -> Response:
        svc = services(request)
        name = q.job_name(body.job)
        jobs, _problems = load_catalog(svc.config.jobs_dir)
        spec = jobs.get(name)
        svc.policy.check_job(principal.role, name, spec.document_type if spec else None)
        if spec is None:
            raise NotFoundError(f"no job {name!r} in the jobs folder")
        if letter_jobs({name: spec}, svc.settings):  # its template needs a written letter
            raise ConfigError(f"job {name!r} writes interactive letters (its template set has"
                              " editable blocks): write them in the web pages, /letters/new")
        ondemand = ondemand_service(request)
        try:
            result = ondemand.render(spec, RenderRequest(
                data=body.record, period=body.period, reason=body.reason,
                idempotency_key=idempotency_key, actor=principal.actor))
        except RecordError as exc:
            svc.compliance.audit.record(principal.actor, "document.render", outcome="rejected",
                                        details={"job": name, "field": exc.field,
                                                 "reason": exc.reason[:300]})
            return JSONResponse({"error": "RecordError", "detail": exc.reason,
                                 "field": exc.field}, 422)
        svc.compliance.audit.record(
            principal.actor, "document.render", document_id=result.document_id,
            run_id=result.run_id, outcome="ok" if result.ok else "failed",
            details={"job": name, "period": result.period, "record_key": result.record_key,
                     "created": result.created, "idempotency_key": bool(idempotency_key),
                     "reason": body.reason[:500]})
        if not result.ok:
            return JSONResponse({"error": "DocumentNotDelivered",
                                 "detail": result.outcome.reason, **result.as_dict()},
                                _failure_status(result))
        status = 201 if result.created else 200
        if result.document_id and "application/pdf" in (accept or ""):
            data = ondemand.pdf(spec, result.document_id)
            return Response(data, status, media_type="application/pdf", headers={
                "X-Document-Id": result.document_id,
                "Content-Disposition": f'inline; filename="{result.document_id}.pdf"'})
        answer = result.as_dict()
        if result.document_id:
            answer["url"] = f"/api/documents/{result.document_id}"
            answer["content_url"] = f"/api/documents/{result.document_id}/content"
            if svc.settings.link_secret:  # a link the desk can hand the customer
                answer["customer_link"] = issue_link(request, principal.actor,
                                                     result.document_id, spec.link_days)["url"]
        return JSONResponse(answer, status)

    return router


def _failure_status(result: OnDemandResult) -> int:
    """409: a run took the record over; 503: worth retrying; 502: a channel refused."""
    channels = result.outcome.channels
    if any(c.handed_over for c in channels):
        return 409
    if result.outcome.retryable:
        return 503
    if any(c.status is ChannelStatus.FAILED and c.channel != "pdf" for c in channels):
        return 502
    return 500
