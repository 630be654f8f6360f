"""The JSON API under /api: documents, exports, holds, the audit log, jobs and runs.

Takes HTTP requests with an API key; gives JSON (or a document's bytes, or an export zip).
Every route depends on `api_role(...)`, which authenticates the key (401) and checks its role
(403); finance sees and starts only the jobs the `JobPolicy` allows. All work is done by
`factory.compliance` and `factory.runner`, each retrieval, export, hold and run start audited.
"""

from __future__ import annotations

import tempfile
from importlib.resources import files
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi import Path as PathParam
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.background import BackgroundTask

from factory.api.catalog import load_catalog
from factory.api.security import Principal, api_principal, api_role, services
from factory.compliance import DocumentQuery, Permission, Role
from factory.compliance import query as q
from factory.compliance.audit_query import AuditQuery
from factory.compliance.roles import allows
from factory.errors import InputError, NotFoundError, PermissionDeniedError
from factory.jobs import JobSpec
from factory.models import Period

DOC_ID = PathParam(description="Document id (a UUID)", max_length=64)
RUN_ID = PathParam(description="Run id", max_length=64)


class HoldBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field("", max_length=500, description="Why (a case number); audited.")


class ExportBody(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    customer: str | None = Field(None, max_length=128)
    document_type: str | None = Field(None, alias="type", max_length=64)
    job: str | None = Field(None, max_length=64)
    channel: str | None = Field(None, max_length=16)
    run: str | None = Field(None, max_length=40)
    date_from: str | None = Field(None, alias="from", max_length=10,
                                  description="YYYY-MM or YYYY-MM-DD")
    date_to: str | None = Field(None, alias="to", max_length=10,
                                description="YYYY-MM or YYYY-MM-DD")
    invoice: str | None = Field(None, max_length=64, description="An invoice number")
    customer_name: str | None = Field(None, alias="name", max_length=256,
                                      description="Part of the customer's name, any case")
    account: str | None = Field(None, max_length=128,
                                description="The customer's account; a trailing * for a prefix")


class RunBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    job: str = Field(max_length=64, description="Job name (see GET /api/jobs).")
    period: str = Field(max_length=10, description="YYYY-MM or YYYY-MM-DD")
    limit: int | None = Field(None, ge=1, le=10_000_000)
    force: bool = Field(False, description="Render archived records again as new revisions"
                        " (the old ones stay archived); needs a reason; refused for invoices.")
    reason: str = Field("", max_length=500, description="Why (required with force).")


SWAGGER_ASSETS = {"swagger-ui-bundle.js": "text/javascript", "swagger-ui.css": "text/css",
                  "favicon.png": "image/png"}


def swagger_page(prefix: str) -> HTMLResponse:
    """Swagger UI for the OpenAPI document under ``prefix``, its files served by us (from the
    pinned fastapi-offline package), so the page works with no internet and no CDN."""
    assets = f"{prefix}/docs/assets"
    return get_swagger_ui_html(openapi_url=f"{prefix}/openapi.json", title="docfactory API",
                               swagger_js_url=f"{assets}/swagger-ui-bundle.js",
                               swagger_css_url=f"{assets}/swagger-ui.css",
                               swagger_favicon_url=f"{assets}/favicon.png")


def swagger_asset(name: str) -> FileResponse:
    """One of the Swagger UI files; any other name is not found."""
    media_type = SWAGGER_ASSETS.get(name)
    if media_type is None:
        raise NotFoundError(f"no such file: {name}")
    path = Path(str(files("fastapi_offline") / "static" / name))
    return FileResponse(path, media_type=media_type,
                        headers={"Cache-Control": "private, max-age=86400"})


def api_router() -> APIRouter:
    router = APIRouter(prefix="/api", dependencies=[Depends(api_principal)])

    @router.get("/whoami", summary="The calling key's id, name and role")
    def whoami(principal: Principal = api_role()) -> dict[str, Any]:
        key = principal.key
        return {"key_id": key.key_id, "name": key.name, "role": key.role.value,
                "permissions": sorted(p.value for p in Permission
                                      if allows(principal.role, p))}

    @router.get("/openapi.json", include_in_schema=False)
    def openapi(request: Request, principal: Principal = api_role()) -> dict[str, Any]:
        app: FastAPI = request.app
        return app.openapi()

    @router.get("/docs", include_in_schema=False)
    def docs(principal: Principal = api_role()) -> HTMLResponse:
        return swagger_page("/api")

    @router.get("/docs/assets/{name}", include_in_schema=False)
    def docs_asset(name: str, principal: Principal = api_role()) -> FileResponse:
        return swagger_asset(name)

    @router.get("/documents", summary="Search archived documents")
    def search(request: Request,
               customer: str | None = Query(None, max_length=200),
               document_type: str | None = Query(None, alias="type", max_length=200),
               job: str | None = Query(None, max_length=200),
               channel: str | None = Query(None, max_length=200),
               run: str | None = Query(None, max_length=200),
               date_from: str | None = Query(None, alias="from", max_length=200,
                                             description="YYYY-MM or YYYY-MM-DD"),
               date_to: str | None = Query(None, alias="to", max_length=200,
                                           description="YYYY-MM or YYYY-MM-DD"),
               invoice: str | None = Query(None, max_length=64,
                                           description="An invoice number, as printed"),
               name: str | None = Query(None, max_length=256,
                                        description="Part of the customer's name, any case"),
               account: str | None = Query(None, max_length=128, description="The customer's"
                                           " account (IBAN); a trailing * for a prefix"),
               limit: int = Query(100, ge=1, le=q.MAX_LIMIT),
               revisions: bool = Query(False, description="Every revision, superseded ones"
                                       " too (default: the current revision of each)."),
               principal: Principal = api_role(Permission.ARCHIVE_SEARCH)) -> dict[str, Any]:
        query = DocumentQuery.parse(customer=customer, document_type=document_type, job=job,
                                    channel=channel, run=run, date_from=date_from,
                                    date_to=date_to, limit=limit, revisions=revisions,
                                    invoice=invoice, customer_name=name, account=account)
        found, more = services(request).compliance.search(principal.actor, query)
        return {"query": query.as_dict(), "count": len(found), "more": more,
                "documents": [d.as_dict() for d in found]}

    @router.get("/documents/{document_id}", summary="One document's index fields")
    def document(request: Request, document_id: str = DOC_ID,
                 principal: Principal = api_role(Permission.ARCHIVE_SEARCH)) -> dict[str, Any]:
        return services(request).compliance.document(document_id).as_dict()

    @router.get("/documents/{document_id}/content",
                summary="The exact archived bytes, verified against the recorded SHA-256",
                response_class=Response,
                responses={200: {"content": {"application/pdf": {}}}})
    def content(request: Request, document_id: str = DOC_ID,
                principal: Principal = api_role(Permission.ARCHIVE_GET)) -> Response:
        document, data = services(request).compliance.get(principal.actor, document_id)
        return Response(data, media_type=document.entry.media_type, headers={
            "Content-Disposition": f'attachment; filename="{document.file_name}"',
            "X-Content-SHA256": document.entry.sha256})

    @router.post("/documents/{document_id}/verify",
                 summary="Check the stored bytes and the seal of one document (audited)")
    def verify(request: Request, document_id: str = DOC_ID,
               principal: Principal = api_role(Permission.ARCHIVE_SEARCH)) -> dict[str, Any]:
        return services(request).compliance.verify_one(principal.actor, document_id).as_dict()

    @router.post("/documents/{document_id}/hold", summary="Place a legal hold")
    def hold(request: Request, body: HoldBody, document_id: str = DOC_ID,
             principal: Principal = api_role(Permission.ARCHIVE_HOLD)) -> dict[str, Any]:
        found, changed = services(request).compliance.hold(principal.actor, document_id,
                                                           body.reason)
        return {**found.as_dict(), "changed": changed}

    @router.post("/documents/{document_id}/release", summary="Release a legal hold")
    def release(request: Request, body: HoldBody, document_id: str = DOC_ID,
                principal: Principal = api_role(Permission.ARCHIVE_HOLD)) -> dict[str, Any]:
        found, changed = services(request).compliance.release(principal.actor, document_id,
                                                              body.reason)
        return {**found.as_dict(), "changed": changed}

    @router.post("/exports", summary="An auditor's bundle (zip) of the matching documents",
                 response_class=FileResponse,
                 responses={200: {"content": {"application/zip": {}}}})
    def export(request: Request, body: ExportBody,
               principal: Principal = api_role(Permission.ARCHIVE_EXPORT)) -> FileResponse:
        return export_response(request, principal, body.model_dump())

    @router.get("/audit", summary="Audit-log entries, newest first (compliance only)")
    def audit(request: Request,
              document: str | None = Query(None, max_length=64, description="Document id"),
              customer: str | None = Query(None, max_length=200,
                                           description="Every document of this customer"),
              actor: str | None = Query(None, max_length=200,
                                        description="Who: key:<id>, web:<name>, cli:<user>"),
              action: str | None = Query(None, max_length=64,
                                         description="archive.get, archive.export, ..."),
              limit: int = Query(100, ge=1, le=q.MAX_LIMIT),
              principal: Principal = api_role(Permission.AUDIT_READ)) -> dict[str, Any]:
        query = AuditQuery.parse(document=document, customer=customer, actor=actor,
                                 action=action, limit=limit)
        found, more = services(request).compliance.search_audit(principal.actor, query)
        return {"query": query.as_dict(), "count": len(found), "more": more,
                "entries": [entry.as_dict() for entry in found]}

    @router.get("/jobs", summary="The jobs this key may start")
    def jobs(request: Request,
             principal: Principal = api_role(Permission.RUNS_START)) -> dict[str, Any]:
        return {"jobs": [_job_dict(spec) for spec in permitted_jobs(request, principal)]}

    @router.get("/runs", summary="Recent runs this key may see")
    def runs(request: Request, job: str | None = Query(None, max_length=200),
             limit: int = Query(20, ge=1, le=500),
             principal: Principal = api_role(Permission.RUNS_READ)) -> dict[str, Any]:
        return {"runs": [_run_dict(run) for run in visible_runs(request, principal, job, limit)]}

    @router.get("/runs/{run_id}", summary="One run: status, counts and its report")
    def run(request: Request, run_id: str = RUN_ID,
            principal: Principal = api_role(Permission.RUNS_READ)) -> dict[str, Any]:
        return _run_dict(read_run(request, principal, run_id), report=True)

    @router.post("/runs", status_code=202, summary="Start a run of a job for a period")
    def start(request: Request, body: RunBody,
              principal: Principal = api_role(Permission.RUNS_START)) -> dict[str, Any]:
        run_id = start_run(request, principal, body.job, body.period, body.limit, body.force,
                           body.reason)
        return {"run_id": run_id, "status": "starting", "url": f"/api/runs/{run_id}"}

    @router.api_route("/{rest:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
                      include_in_schema=False)
    def unknown(rest: str, principal: Principal = api_role()) -> None:
        """Any other path: 401 without a key (nothing is revealed), 404 with one."""
        raise NotFoundError("no such API route")

    return router


# -- shared with the pages ---------------------------------------------------------------------


def export_response(request: Request, principal: Principal, fields: dict[str, Any]
                    ) -> FileResponse:
    """Build the bundle in a private temporary folder and stream it; the folder goes after."""
    query = DocumentQuery.parse(customer=fields.get("customer"),
                                document_type=fields.get("document_type"),
                                job=fields.get("job"), channel=fields.get("channel"),
                                run=fields.get("run"), date_from=fields.get("date_from"),
                                date_to=fields.get("date_to"), limit=None,
                                invoice=fields.get("invoice"),
                                customer_name=fields.get("customer_name"),
                                account=fields.get("account"))
    folder = tempfile.TemporaryDirectory(prefix="docfactory-export-")
    try:
        target = Path(folder.name) / "export.zip"
        summary = services(request).compliance.export(principal.actor, query, target)
    except BaseException:
        folder.cleanup()
        raise
    name = f"export-{summary.sha256[:12]}.zip"
    return FileResponse(target, media_type="application/zip", filename=name,
                        headers={"X-Content-SHA256": summary.sha256},
                        background=BackgroundTask(folder.cleanup))


def permitted_jobs(request: Request, principal: Principal) -> list[JobSpec]:
    jobs, _problems = load_catalog(services(request).config.jobs_dir)
    policy = services(request).policy
    return [spec for name, spec in sorted(jobs.items())
            if policy.may_use_job(principal.role, spec.document_type)]


def _job_types(request: Request) -> dict[str, str]:
    jobs, _problems = load_catalog(services(request).config.jobs_dir)
    return {name: spec.document_type for name, spec in jobs.items()}


def visible_runs(request: Request, principal: Principal, job: str | None, limit: int
                 ) -> list[dict[str, Any]]:
    """The runs ``principal`` may see, newest first, as dicts (the JSON answer, and what
    `factory.ops.runs` reads for the pages)."""
    index = services(request).index
    if job is not None:
        job = q.job_name(job)
    if principal.role is not Role.FINANCE:
        return [row.as_dict() for row in index.runs.recent(job, limit)]
    types = _job_types(request)
    policy = services(request).policy
    names = [name for name, kind in types.items() if policy.may_use_job(principal.role, kind)]
    if job is not None:
        policy.check_job(principal.role, job, types.get(job))
        names = [job]
    return [row.as_dict() for row in index.runs.recent(names, limit)] if names else []


def read_run(request: Request, principal: Principal, run_id: str) -> dict[str, Any]:
    run_id = q.run_id(run_id)
    row = services(request).index.runs.get(run_id)
    found = row.as_dict() if row is not None else None  # a dict like the launcher's status
    if found is None:
        found = services(request).launcher.status(run_id)
        if found is None:
            raise NotFoundError(f"no run {run_id}")
    if principal.role is Role.FINANCE:
        types = _job_types(request)
        services(request).policy.check_job(principal.role, found["job"], types.get(found["job"]))
    return found


def start_run(request: Request, principal: Principal, job: str, period: str,
              limit: int | None, force: bool, reason: str = "") -> str:
    svc = services(request)
    name = q.job_name(job)
    jobs, _problems = load_catalog(svc.config.jobs_dir)
    spec = jobs.get(name)
    try:
        svc.policy.check_job(principal.role, name, spec.document_type if spec else None)
    except PermissionDeniedError:
        svc.compliance.audit.record(principal.actor, "run.start", outcome="denied",
                                    details={"job": name, "period": period[:20]})
        raise
    if spec is None:
        raise NotFoundError(f"no job {name!r} in the jobs folder")
    try:
        period = Period.parse(period).code
    except ValueError as exc:
        raise InputError(str(exc)) from None

    def audited(run_id: str) -> None:
        svc.compliance.audit.record(principal.actor, "run.start", run_id=run_id,
                                    details={"job": name, "period": period, "limit": limit,
                                             "force": force, "reason": reason[:500]})

    return svc.launcher.start(spec, period, limit=limit, force=force, reason=reason,
                              actor=principal.actor, on_start=audited)


def _job_dict(spec: JobSpec) -> dict[str, Any]:
    return {"name": spec.name, "document_type": spec.document_type,
            "description": spec.description}


def _run_dict(run: dict[str, Any], report: bool = False) -> dict[str, Any]:
    result = {k: (v.isoformat() if hasattr(v, "isoformat") else v)
              for k, v in run.items() if k != "report"}
    stored = run.get("report") or {}
    result["counts"] = stored.get("counts")
    result["reconciliation"] = stored.get("reconciliation")
    if report:
        result["report"] = stored or None
    return result
