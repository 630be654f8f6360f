"""The web pages: log in with a key, search the archive, a document's whole trail (page
previews, revisions, audit entries, seal status, "verify now"), download, see and start runs.

Takes browser requests with a session cookie (set by logging in with an API key); gives HTML
rendered on the server from ``templates/`` by Jinja2 with autoescaping (no JavaScript), in the
user's language (`factory.api.i18n`: ``Accept-Language``, switchable with ``?lang=xx``, which a
cookie remembers), dates and numbers formatted for it. Every
page depends on `page_role(...)`, like the API; every form POST carries a CSRF token. The
pages call the same functions as the JSON API, so they are audited the same way.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, FastAPI, Form, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from factory.api import i18n
from factory.api.guard import PUBLIC, note_failure  # noqa: F401 (PUBLIC: re-exported)
from factory.api.routes import (
    export_response,
    permitted_jobs,
    read_run,
    start_run,
    swagger_asset,
    swagger_page,
    visible_runs,
)
from factory.api.security import (
    LOGIN_COOKIE,
    SESSION_COOKIE,
    Principal,
    page_principal,
    page_role,
    page_role_any,
    services,
)
from factory.compliance import DocumentQuery, Permission
from factory.compliance.facets import facets
from factory.compliance.keys import authenticate
from factory.compliance.roles import allows
from factory.compliance.trail import MAX_PREVIEW_PAGES
from factory.errors import (
    AuthenticationError,
    ConfigError,
    DeliveryError,
    InputError,
    LegalHoldError,
    NotFoundError,
)
from factory.ops.runs import hms

TEMPLATES = Path(__file__).parent / "templates"
_env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True,
                   undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                   extensions=["jinja2.ext.i18n"])
_env.filters["bytes"] = i18n.number
_env.filters["number"] = i18n.number
_env.filters["when"] = i18n.when
_env.filters["number_or_blank"] = i18n.number_or_blank
_env.globals.update(hms=hms, status_name=i18n.status_name, count_name=i18n.count_name,
                    reconciliation=i18n.reconciliation)
_env.install_gettext_callables(  # type: ignore[attr-defined]
    lambda message: i18n.translations(i18n.current()).gettext(message),
    lambda singular, plural, n: i18n.translations(i18n.current()).ngettext(singular, plural, n),
    newstyle=True)
_env.policies["ext.i18n.trimmed"] = True



def page_locale(request: Request) -> str:
    """The language of the page for this request (and of the texts pages.py writes)."""
    locale = i18n.choose(request.query_params.get("lang"), request.cookies.get(i18n.COOKIE),
                         request.headers.get("accept-language"))
    i18n.set_current(locale)
    return locale


def _details(entry: Any) -> str:
    """An audit entry's details as short ``key: value`` text for the trail table."""
    import json

    try:
        values = json.loads(entry.details)
    except ValueError:
        return str(entry.details)[:300]
    if not isinstance(values, dict):
        return str(values)[:300]
    return "; ".join(f"{k}: {v}" for k, v in values.items() if v not in (None, "", []))[:300]


def render_page(request: Request, template: str, context: dict[str, Any],
                status: int = 200, principal: Principal | None = None) -> HTMLResponse:
    cookie = request.cookies.get(SESSION_COOKIE)
    locale = page_locale(request)
    others = [(k, v) for k, v in request.query_params.multi_items() if k != "lang"]
    switch = {code: request.url.path + "?" + urlencode([*others, ("lang", code)])
              for code in i18n.LOCALES}
    values = {"principal": principal, "csrf": services(request).sessions.csrf(cookie),
              "can": (lambda p: principal is not None and allows(principal.role, p)),
              "Permission": Permission, "message": None, "lang": locale,
              "html_lang": i18n.FORMAT[locale].replace("_", "-"), "languages": i18n.NAMES,
              "switch": switch, **context}
    response = HTMLResponse(_env.get_template(template).render(values), status)
    if request.query_params.get("lang") in i18n.LOCALES:
        response.set_cookie(i18n.COOKIE, locale, max_age=365 * 24 * 3600, httponly=True,
                            samesite="strict", secure=services(request).config.secure_cookies,
                            path="/")
    response.headers["Content-Language"] = locale
    return response


def public_page(template: str, locale: str, context: dict[str, Any], status: int = 200
                ) -> HTMLResponse:
    """A public page (a customer's document link, ``/my``) in ``locale``, the customer's
    language (``cs_CZ`` → cs; one the pages do not speak → English): no session, no switch."""
    lang = locale.split("_")[0]
    lang = lang if lang in i18n.LOCALES else i18n.DEFAULT
    i18n.set_current(lang)
    return HTMLResponse(_env.get_template(template).render(lang=lang, **context), status)


def login_page(request: Request, message: str | None = None, status: int = 200
               ) -> HTMLResponse:
    """The login form, with a token tied to a nonce cookie (no login CSRF). The nonce is kept
    while the browser has one: another 401 (its favicon) must not make the form stale."""
    sessions = services(request).sessions
    nonce = request.cookies.get(LOGIN_COOKIE) or sessions.login_nonce()
    response = render_page(request, "login.html", {"message": message,
                                                    "login_csrf": sessions.login_token(nonce)},
                           status)
    response.set_cookie(LOGIN_COOKIE, nonce, max_age=3600, httponly=True, samesite="strict",
                        secure=services(request).config.secure_cookies, path="/")
    return response


def guard_page(request: Request, status: int, message: str) -> Response:
    """The page `RequestGuard` answers with before any route ran (401, 413, 429)."""
    if status == 401:
        return login_page(request, message, status)
    return render_page(request, "error.html", {"status": status, "error": message}, status)


def _document_page(request: Request, principal: Principal, document_id: str,
                   message: str | None = None, status: int = 200, reason: str = ""
                   ) -> HTMLResponse:
    """A document's whole trail; ``message``: why a reissue from it was refused."""
    trail = services(request).compliance.trail(document_id)
    verified = next((e for e in trail.audit if e.action == "archive.verify"), None)
    pages = min(trail.document.entry.page_count or 0, MAX_PREVIEW_PAGES) \
        if trail.document.entry.media_type == "application/pdf" else 0
    return render_page(request, "document.html", {
        "document": trail.document, "trail": trail, "check": trail.check,
        "seal": trail.check.seal, "verified": verified, "preview_pages": pages,
        "details": _details, "message": message, "reissue_reason": reason}, status,
        principal=principal)


def public_router() -> APIRouter:
    """The only routes without a key: the login form, logging in and out."""
    router = APIRouter(include_in_schema=False)

    @router.get("/login", response_class=HTMLResponse)
    def login_form(request: Request) -> HTMLResponse:
        return login_page(request)

    @router.post("/login")
    def login(request: Request, key: str = Form("", max_length=200),
              csrf: str = Form("", max_length=200)) -> Response:
        services(request).sessions.check_login(request, csrf)
        try:
            info = authenticate(services(request).index, key)
        except AuthenticationError:
            note_failure(request, "login form", key)
            page_locale(request)
            return login_page(request, i18n._("That key is not valid (or has been revoked)."),
                              401)
        response = RedirectResponse("/", status_code=303)
        config = services(request).config
        response.set_cookie(SESSION_COOKIE, services(request).sessions.issue(info.key_id),
                            max_age=int(config.session_hours * 3600), httponly=True,
                            samesite="strict", secure=config.secure_cookies, path="/")
        response.delete_cookie(LOGIN_COOKIE, path="/")
        return response

    @router.post("/logout")
    def logout(request: Request) -> Response:
        services(request).sessions.revoke(request.cookies.get(SESSION_COOKIE))
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    return router


def page_router() -> APIRouter:
    """Every other page: a valid session (router-wide), then the role of each route."""
    router = APIRouter(include_in_schema=False, dependencies=[Depends(page_principal)])

    @router.get("/", response_class=HTMLResponse)
    def home(request: Request, principal: Principal = page_role()) -> HTMLResponse:
        return render_page(request, "home.html", {}, principal=principal)

    @router.get("/docs", response_class=HTMLResponse)
    def docs(principal: Principal = page_role()) -> HTMLResponse:
        return swagger_page("")

    @router.get("/docs/assets/{name}")
    def docs_asset(name: str, principal: Principal = page_role()) -> FileResponse:
        return swagger_asset(name)

    @router.get("/openapi.json")
    def openapi(request: Request, principal: Principal = page_role()) -> dict[str, Any]:
        app: FastAPI = request.app
        return app.openapi()

    @router.get("/archive", response_class=HTMLResponse)
    def archive(request: Request, customer: str = Query("", max_length=200),
                document_type: str = Query("", alias="type", max_length=200),
                job: str = Query("", max_length=200), channel: str = Query("", max_length=200),
                date_from: str = Query("", alias="from", max_length=200),
                date_to: str = Query("", alias="to", max_length=200),
                invoice: str = Query("", max_length=64),
                name: str = Query("", max_length=256), account: str = Query("", max_length=128),
                principal: Principal = page_role(Permission.ARCHIVE_SEARCH)) -> HTMLResponse:
        form = {"customer": customer, "type": document_type, "job": job, "channel": channel,
                "from": date_from, "to": date_to, "invoice": invoice, "name": name,
                "account": account}
        searched = any(v.strip() for v in form.values())
        if searched:
            query = DocumentQuery.parse(customer=customer, document_type=document_type,
                                        job=job, channel=channel, date_from=date_from,
                                        date_to=date_to, limit=200, invoice=invoice,
                                        customer_name=name, account=account)
            found, more = services(request).compliance.search(principal.actor, query)
        else:
            found, more = [], False
        return render_page(request, "archive.html", {
            "form": form, "documents": found, "more": more, "searched": searched,
            "facets": facets(services(request).index)}, principal=principal)

    @router.get("/documents/{document_id}", response_class=HTMLResponse)
    def document(request: Request, document_id: str,
                 principal: Principal = page_role_any(Permission.ARCHIVE_SEARCH,
                                                      Permission.DOCUMENTS_RENDER)
                 ) -> HTMLResponse:
        return _document_page(request, principal, document_id)

    @router.post("/documents/{document_id}/reissue")
    def reissue_document(request: Request, document_id: str, csrf: str = Form(""),
                         reason: str = Form("", max_length=500),
                         principal: Principal = page_role(Permission.DOCUMENTS_RENDER)
                         ) -> Response:
        from factory.api.app import status_of
        from factory.api.reissue import reissue

        services(request).sessions.check_csrf(request, csrf)
        try:
            new_id = reissue(request, principal, document_id, reason)
        except (ConfigError, NotFoundError, LegalHoldError, DeliveryError) as exc:
            # A refusal is shown on the document's page, with the reason given kept.
            return _document_page(request, principal, document_id, str(exc),
                                  status_of(exc), reason)
        return RedirectResponse(f"/documents/{new_id}", status_code=303)

    @router.get("/documents/{document_id}/pages/{page}.png")
    def page_image(request: Request, document_id: str, page: int,
                   principal: Principal = page_role(Permission.ARCHIVE_GET)) -> Response:
        png = services(request).compliance.preview(principal.actor, document_id, page)
        return Response(png, media_type="image/png")

    @router.post("/documents/{document_id}/verify")
    def verify_now(request: Request, document_id: str, csrf: str = Form(""),
                   principal: Principal = page_role(Permission.ARCHIVE_SEARCH)) -> Response:
        services(request).sessions.check_csrf(request, csrf)
        check = services(request).compliance.verify_one(principal.actor, document_id)
        return RedirectResponse(f"/documents/{check.document_id}#verification",
                                status_code=303)

    @router.get("/documents/{document_id}/download")
    def download(request: Request, document_id: str,
                 principal: Principal = page_role(Permission.ARCHIVE_GET)) -> Response:
        found, data = services(request).compliance.get(principal.actor, document_id)
        return Response(data, media_type=found.entry.media_type, headers={
            "Content-Disposition": f'attachment; filename="{found.file_name}"',
            "X-Content-SHA256": found.entry.sha256})

    @router.post("/documents/{document_id}/hold")
    def hold(request: Request, document_id: str, csrf: str = Form(""),
             reason: str = Form("", max_length=500),
             principal: Principal = page_role(Permission.ARCHIVE_HOLD)) -> Response:
        services(request).sessions.check_csrf(request, csrf)
        found, _ = services(request).compliance.hold(principal.actor, document_id, reason)
        return RedirectResponse(f"/documents/{found.document_id}", status_code=303)

    @router.post("/documents/{document_id}/release")
    def release(request: Request, document_id: str, csrf: str = Form(""),
                reason: str = Form("", max_length=500),
                principal: Principal = page_role(Permission.ARCHIVE_HOLD)) -> Response:
        services(request).sessions.check_csrf(request, csrf)
        found, _ = services(request).compliance.release(principal.actor, document_id, reason)
        return RedirectResponse(f"/documents/{found.document_id}", status_code=303)

    @router.post("/exports")
    def export(request: Request, csrf: str = Form(""),
               customer: str = Form("", max_length=200),
               document_type: str = Form("", alias="type", max_length=200),
               job: str = Form("", max_length=200), channel: str = Form("", max_length=200),
               date_from: str = Form("", alias="from", max_length=200),
               date_to: str = Form("", alias="to", max_length=200),
               invoice: str = Form("", max_length=64),
               name: str = Form("", max_length=256), account: str = Form("", max_length=128),
               principal: Principal = page_role(Permission.ARCHIVE_EXPORT)) -> Response:
        services(request).sessions.check_csrf(request, csrf)
        return export_response(request, principal, {
            "customer": customer, "document_type": document_type, "job": job,
            "channel": channel, "date_from": date_from, "date_to": date_to,
            "invoice": invoice, "customer_name": name, "account": account})

    @router.get("/runs", response_class=HTMLResponse)
    def runs(request: Request,
             principal: Principal = page_role(Permission.RUNS_READ)) -> HTMLResponse:
        from factory.ops.calendar import calendar_of
        from factory.ops.runs import period_totals, run_row

        found = visible_runs(request, principal, None, 50)
        calendar = calendar_of(permitted_jobs(request, principal), services(request).index,
                               datetime.now(UTC), count=2, past=10)
        return render_page(request, "runs.html",
                           {"runs": [(r, run_row(r)) for r in found], "calendar": calendar,
                            "periods": period_totals(found)}, principal=principal)

    @router.get("/runs/new", response_class=HTMLResponse)
    def new_run(request: Request,
                principal: Principal = page_role(Permission.RUNS_START)) -> HTMLResponse:
        return render_page(request, "run_new.html",
                           {"jobs": permitted_jobs(request, principal)}, principal=principal)

    @router.post("/runs")
    def create_run(request: Request, csrf: str = Form(""), job: str = Form("", max_length=200),
                   period: str = Form("", max_length=200), limit: str = Form("", max_length=12),
                   principal: Principal = page_role(Permission.RUNS_START)) -> Response:
        services(request).sessions.check_csrf(request, csrf)
        if limit.strip() and not (limit.strip().isdigit() and int(limit) >= 1):
            raise InputError(f"limit {limit[:12]!r} is not a whole number of records")
        run_id = start_run(request, principal, job, period,
                           int(limit) if limit.strip() else None, False)
        return RedirectResponse(f"/runs/{run_id}", status_code=303)

    @router.get("/runs/{run_id}", response_class=HTMLResponse)
    def run(request: Request, run_id: str,
            principal: Principal = page_role(Permission.RUNS_READ)) -> HTMLResponse:
        from factory.ops.runs import run_problems

        found = read_run(request, principal, run_id)
        problems = run_problems(services(request).settings.runs_dir / found["run_id"])
        return render_page(request, "run.html", {"run": found, "problems": problems,
                                                 "report": found.get("report") or {}},
                           principal=principal)

    @router.api_route("/{rest:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    def unknown(rest: str, principal: Principal = page_role()) -> None:
        """Any other path: the login page without a session, 404 with one."""
        raise NotFoundError("no such page")

    return router
