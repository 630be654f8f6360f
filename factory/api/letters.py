"""The letter pages: write an interactive letter for one customer, preview it, submit it, and
the four-eyes queue where a second person approves or rejects it.

Takes browser requests with a session (``letters:write`` to write, ``letters:approve`` to
review; `factory.compliance.roles`), every POST with the session's CSRF token; gives HTML pages
(`templates/letter_new.html`, ``letter.html``, ``letters.html``) and the preview's PNG pages.
The work is `factory.ondemand.letters.LetterDesk`'s: the record from the job's source by key
(or posted as JSON) validated by the job's schema, the blocks sanitised by nh3, the preview
rendered by the job's own renderer (nothing archived), and sending through the on-demand path.
A record or a block that does not fit is shown on the form again (422, naming the field or the
block, what was typed kept). Previews are kept in this process for a few minutes, each
readable only by the session's key that asked for it.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict
from typing import Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup

from factory.api.catalog import load_catalog
from factory.api.ondemand import ondemand_service
from factory.api.pages import page_locale, render_page
from factory.api.security import Principal, page_principal, page_role, page_role_any, services
from factory.compliance import Permission
from factory.compliance.roles import allows
from factory.errors import InputError, NotFoundError, RecordError
from factory.models import Record
from factory.ondemand.letters import LetterDesk, LetterJob, letter_content, letter_jobs
from factory.templates.blocks import LETTER_KEY

_LOCK = threading.Lock()
PREVIEW_SECONDS = 900
MAX_PREVIEWS = 64
MAX_TEXT = 20_000
MAX_RECORD = 100_000
ANY_LETTERS = (Permission.LETTERS_WRITE, Permission.LETTERS_APPROVE)


class Previews:
    """Rendered preview pages by a random token, each tied to the key that asked; bounded."""

    def __init__(self) -> None:
        self._kept: OrderedDict[str, tuple[str, float, list[bytes]]] = OrderedDict()
        self._lock = threading.Lock()

    def keep(self, key_id: str, pages: list[bytes]) -> str:
        token = secrets.token_urlsafe(18)
        with self._lock:
            self._kept[token] = (key_id, time.monotonic() + PREVIEW_SECONDS, pages)
            while len(self._kept) > MAX_PREVIEWS:
                self._kept.popitem(last=False)
        return token

    def page(self, key_id: str, token: str, page: int) -> bytes:
        with self._lock:
            found = self._kept.get(token)
        if found is None or found[0] != key_id or found[1] < time.monotonic() \
                or not 1 <= page <= len(found[2]):
            raise NotFoundError("no such preview (they are kept for 15 minutes)")
        return found[2][page - 1]


def _desk(request: Request) -> tuple[LetterDesk, Previews]:
    svc = services(request)
    with _LOCK:
        found = getattr(svc, "letters", None)
        if found is None:
            found = (LetterDesk(svc.settings, svc.index, ondemand_service(request)), Previews())
            svc.letters = found
    desk: tuple[LetterDesk, Previews] = found
    return desk


def _jobs(request: Request, principal: Principal) -> dict[str, LetterJob]:
    svc = services(request)
    jobs, _problems = load_catalog(svc.config.jobs_dir)
    return {name: job for name, job in letter_jobs(jobs, svc.settings).items()
            if svc.policy.may_use_job(principal.role, job.job.document_type)}


def _job(request: Request, principal: Principal, name: str) -> LetterJob:
    found = _jobs(request, principal).get(name.strip())
    if found is None:
        raise NotFoundError(f"no letter job {name.strip()[:64]!r} (a job whose template set"
                            " declares editable blocks) in the jobs folder")
    return found


def _shown(record: Record | None) -> list[tuple[str, Any]]:
    if record is None:
        return []
    return [(k, v) for k, v in record.data.items() if k != LETTER_KEY and v not in (None, "")]


def _blocks_html(job: LetterJob | None, blocks: dict[str, str], locale: str
                 ) -> list[tuple[str, Markup]]:
    """The blocks as the letter shows them: sanitised again, then marked safe."""
    if job is None:
        return []
    return [(spec.label_for(locale), Markup(spec.clean(blocks.get(spec.name, ""))))  # noqa: S704
            for spec in job.blocks]


def letters_router() -> APIRouter:
    router = APIRouter(include_in_schema=False, dependencies=[Depends(page_principal)])

    def form_page(request: Request, principal: Principal, *, job: LetterJob | None = None,
                  customer: str = "", record_json: str = "", record: Record | None = None,
                  texts: dict[str, str] | None = None, preview: tuple[str, int] | None = None,
                  message: str | None = None, status: int = 200) -> HTMLResponse:
        jobs = _jobs(request, principal)
        if job is None and len(jobs) == 1:
            job = next(iter(jobs.values()))
        return render_page(request, "letter_new.html", {
            "jobs": list(jobs.values()), "job": job, "customer": customer,
            "record_json": record_json, "record": record, "shown": _shown(record),
            "texts": texts or {}, "preview": preview, "message": message,
            "locale": page_locale(request)}, status, principal=principal)

    @router.get("/letters/new", response_class=HTMLResponse)
    def new_letter(request: Request, job: str = "", customer: str = "",
                   principal: Principal = page_role(Permission.LETTERS_WRITE)) -> HTMLResponse:
        chosen = _job(request, principal, job) if job.strip() else None
        if chosen is None or not customer.strip():
            return form_page(request, principal, job=chosen, customer=customer[:128])
        try:
            record = _desk(request)[0].record_by_key(chosen, customer)
        except (RecordError, NotFoundError) as exc:
            return form_page(request, principal, job=chosen, customer=customer[:128],
                             message=str(exc), status=_status(exc))
        return form_page(request, principal, job=chosen, customer=record.key, record=record)

    @router.post("/letters/new", response_class=HTMLResponse)
    def write_letter(request: Request, csrf: str = Form(""), job: str = Form("", max_length=64),
                     customer: str = Form("", max_length=128),
                     record_json: str = Form("", max_length=MAX_RECORD),
                     action: str = Form("open", max_length=16),
                     block_name: list[str] = Form([]), block_text: list[str] = Form([]),
                     principal: Principal = page_role(Permission.LETTERS_WRITE)) -> Response:
        services(request).sessions.check_csrf(request, csrf)
        chosen = _job(request, principal, job)
        desk, previews = _desk(request)
        if len(block_name) != len(block_text) or any(len(t) > MAX_TEXT for t in block_text):
            raise InputError("the form's blocks do not match the letter; reload the page")
        texts = dict(zip(block_name, block_text, strict=True))
        keep: dict[str, Any] = {"job": chosen, "customer": customer,
                                "record_json": record_json, "texts": texts}
        try:
            record = desk.record_from_json(chosen, record_json) if record_json.strip() \
                else desk.record_by_key(chosen, customer)
        except (RecordError, NotFoundError) as exc:
            return form_page(request, principal, **keep, message=str(exc), status=_status(exc))
        keep["record"] = record
        try:
            if action == "preview":
                pages = desk.preview(chosen, record, texts, principal.actor)
                token = previews.keep(principal.key.key_id, pages)
                return form_page(request, principal, **keep, preview=(token, len(pages)))
            if action == "submit":
                row = desk.submit(chosen, record, texts, principal.actor)
                return RedirectResponse(f"/letters/{row.letter_id}", status_code=303)
        except RecordError as exc:  # a block that does not fit (BlockError names it)
            return form_page(request, principal, **keep, message=str(exc), status=422)
        return form_page(request, principal, **keep)

    @router.get("/letters/previews/{token}/{page}.png")
    def preview_page(request: Request, token: str, page: int,
                     principal: Principal = page_role_any(*ANY_LETTERS)) -> Response:
        png = _desk(request)[1].page(principal.key.key_id, token[:64], page)
        return Response(png, media_type="image/png")

    @router.get("/letters", response_class=HTMLResponse)
    def queue(request: Request,
              principal: Principal = page_role_any(*ANY_LETTERS)) -> HTMLResponse:
        letters = services(request).index.letters
        return render_page(request, "letters.html", {
            "pending": letters.where(("pending",)),
            "others": letters.where(("approved", "sent", "failed", "rejected"), limit=50,
                                    newest_first=True),
            "jobs": _jobs(request, principal)}, principal=principal)

    def letter_page(request: Request, principal: Principal, letter_id: str,
                    message: str | None = None, status: int = 200) -> HTMLResponse:
        row = services(request).index.letters.get(letter_id[:36])
        if row is None:
            raise NotFoundError(f"no letter {letter_id[:36]}")
        content = letter_content(row)
        jobs = _jobs(request, principal)
        job = jobs.get(row.job)
        preview = None
        reviewer = allows(principal.role, Permission.LETTERS_APPROVE) \
            and principal.actor.id != row.author
        if row.status == "pending" and job is not None and reviewer:
            # The second person sees the real pages before approving them.
            desk, previews = _desk(request)
            pages = desk.preview(job, desk.record_from_json(job, _json(content["record"])),
                                 content["blocks"], principal.actor)
            preview = (previews.keep(principal.key.key_id, pages), len(pages))
        return render_page(request, "letter.html", {
            "letter": row, "record": content["record"], "blocks": _blocks_html(
                job, content["blocks"], page_locale(request)), "preview": preview,
            "may_review": reviewer, "message": message, "LETTER_KEY": LETTER_KEY}, status,
            principal=principal)

    @router.get("/letters/{letter_id}", response_class=HTMLResponse)
    def letter(request: Request, letter_id: str,
               principal: Principal = page_role_any(*ANY_LETTERS)) -> HTMLResponse:
        return letter_page(request, principal, letter_id)

    @router.post("/letters/{letter_id}/approve")
    def approve(request: Request, letter_id: str, csrf: str = Form(""),
                principal: Principal = page_role(Permission.LETTERS_APPROVE)) -> Response:
        return review(request, principal, letter_id, csrf, True, "")

    @router.post("/letters/{letter_id}/reject")
    def reject(request: Request, letter_id: str, csrf: str = Form(""),
               reason: str = Form("", max_length=1000),
               principal: Principal = page_role(Permission.LETTERS_APPROVE)) -> Response:
        return review(request, principal, letter_id, csrf, False, reason)

    def review(request: Request, principal: Principal, letter_id: str, csrf: str,
               approve: bool, reason: str) -> Response:
        services(request).sessions.check_csrf(request, csrf)
        row = services(request).index.letters.get(letter_id[:36])
        if row is None:
            raise NotFoundError(f"no letter {letter_id[:36]}")
        try:
            _desk(request)[0].review(_job(request, principal, row.job), row.letter_id,
                                     principal.actor, approve, reason)
        except RecordError as exc:
            return letter_page(request, principal, row.letter_id, str(exc), 422)
        return RedirectResponse(f"/letters/{row.letter_id}", status_code=303)

    @router.post("/letters/{letter_id}/send")
    def send_again(request: Request, letter_id: str, csrf: str = Form(""),
                   principal: Principal = page_role_any(*ANY_LETTERS)) -> Response:
        services(request).sessions.check_csrf(request, csrf)
        row = services(request).index.letters.get(letter_id[:36])
        if row is None:
            raise NotFoundError(f"no letter {letter_id[:36]}")
        if row.status not in ("approved", "failed"):
            return letter_page(request, principal, row.letter_id,
                               f"letter {row.letter_id} is {row.status}: nothing to send", 409)
        _desk(request)[0].send(_job(request, principal, row.job), row, principal.actor)
        return RedirectResponse(f"/letters/{row.letter_id}", status_code=303)

    return router


def _status(exc: Exception) -> int:
    return 404 if isinstance(exc, NotFoundError) else 422


def _json(data: Any) -> str:
    import json

    return json.dumps(data, ensure_ascii=False)
