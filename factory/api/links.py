"""Customers fetch their own documents: signed links, a minimal public page, revocation.

Takes a link token (``/d/<token>``, no API key: `factory.api.guard` lets ``GET /d/...``
through, throttled like failed logins) or, under /api with ``documents:render``, a document id
to link or revoke; gives a page in the document's language with its name, date and a download
button and nothing else (no customer data, no other document), the verified PDF, or the link.
Each use is audited (``link.open``, ``link.download``, ``link.refused``, ``link.issue``,
``link.revoke``). A link is refused when its signature fails (counted against the client: after
``FACTORY_API_AUTH_FAILURES`` failures a minute it gets 429), when it expired, or when a
``link.revoke`` of its document (all its links) or of that link was recorded after it was
issued. Tokens come from `factory.links.LinkSigner` with ``FACTORY_LINK_SECRET``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from babel.dates import format_date
from fastapi import APIRouter, Depends, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from factory.api.guard import note_failure
from factory.api.pages import public_page
from factory.api.security import Principal, api_principal, api_role, services
from factory.compliance import Actor, Permission
from factory.compliance.documents import load
from factory.errors import NotFoundError
from factory.links import LinkClaim, LinkExpired, LinkInvalid, LinkSigner

PREFIX = "/d/"
TOKEN = PathParam(max_length=400)
DEFAULT_DAYS = 30.0

class LinkBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    days: float | None = Field(None, gt=0, le=3650, description="Lifetime (default 30 days)")


class RevokeBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    link_id: str | None = Field(None, max_length=32, description="One link (default: all"
                                " links of the document issued so far)")
    reason: str = Field("", max_length=500)


def signer(request: Request) -> LinkSigner:
    return LinkSigner(services(request).settings.link_secret)


def issue_link(request: Request, actor: Actor, document_id: str,
               days: float | None = None) -> dict[str, Any]:
    """A new link to ``document_id`` (audited ``link.issue``): URL, link id and expiry."""
    svc = services(request)
    document = load(svc.index, document_id)
    token, link_id = signer(request).issue(document.document_id, days or DEFAULT_DAYS)
    claim = signer(request).open(token)
    base = (svc.settings.public_url or "").rstrip("/")
    svc.compliance.audit.record(actor, "link.issue", document_id=document.document_id,
                                details={"link_id": link_id, "expires_at": claim.expires_at})
    return {"document_id": document.document_id, "link_id": link_id,
            "url": f"{base}{PREFIX}{token}",
            "expires_at": datetime.fromtimestamp(claim.expires_at, UTC).isoformat()}


def public_links_router() -> APIRouter:
    router = APIRouter()

    @router.get(PREFIX + "{token}", response_class=HTMLResponse, include_in_schema=False)
    def page(request: Request, token: str = TOKEN) -> Response:
        claim, refused = _open(request, token)
        if refused is not None:
            return refused
        document = load(services(request).index, claim.document_id)
        entry = document.entry
        _audit(request, claim, "link.open")
        return public_page("public_document.html", entry.locale, {
            "document_type": entry.document_type, "period": entry.period,
            "download": f"{PREFIX}{token}/pdf",
            "date": format_date(entry.created_at.date(), "long", locale=entry.locale)})

    @router.get(PREFIX + "{token}/pdf", include_in_schema=False)
    def download(request: Request, token: str = TOKEN) -> Response:
        claim, refused = _open(request, token)
        if refused is not None:
            return refused
        svc = services(request)
        document, data = svc.compliance.get(_actor(claim), claim.document_id)
        _audit(request, claim, "link.download")
        return Response(data, media_type=document.entry.media_type, headers={
            "Content-Disposition": f'attachment; filename="{document.file_name}"'})

    return router


def link_api_router() -> APIRouter:
    router = APIRouter(prefix="/api", dependencies=[Depends(api_principal)])

    @router.post("/documents/{document_id}/links", status_code=201,
                 summary="A signed, expiring link a customer opens to fetch this document")
    def create(request: Request, body: LinkBody, document_id: str = PathParam(max_length=64),
               principal: Principal = api_role(Permission.DOCUMENTS_RENDER)) -> dict[str, Any]:
        return issue_link(request, principal.actor, document_id, body.days)

    @router.post("/documents/{document_id}/links/revoke",
                 summary="Revoke one link, or every link issued so far, of this document")
    def revoke(request: Request, body: RevokeBody, document_id: str = PathParam(max_length=64),
               principal: Principal = api_role(Permission.DOCUMENTS_RENDER)) -> dict[str, Any]:
        svc = services(request)
        document = load(svc.index, document_id)
        svc.compliance.audit.record(principal.actor, "link.revoke",
                                    document_id=document.document_id,
                                    details={"link_id": body.link_id, "reason": body.reason})
        return {"document_id": document.document_id, "link_id": body.link_id,
                "revoked": "one link" if body.link_id else "all links issued so far"}

    return router


def _open(request: Request, token: str) -> tuple[LinkClaim, Response | None]:
    """The link's claim, or the refusal page (audited; a forged link counts as a failure)."""
    svc = services(request)
    dummy = LinkClaim("", "", 0.0, 0.0)
    try:
        claim = signer(request).open(token)
    except LinkExpired:
        svc.compliance.audit.record(Actor("link:unknown", "customer"), "link.refused",
                                    outcome="denied", details={"why": "expired"})
        return dummy, _refused(410)
    except LinkInvalid:
        note_failure(request, "link", None)
        return dummy, _refused(404)
    try:
        revoked = _revoked(request, claim)
    except NotFoundError:
        revoked = True
    if revoked:
        _audit(request, claim, "link.refused", outcome="denied", why="revoked")
        return claim, _refused(410)
    return claim, None


def _revoked(request: Request, claim: LinkClaim) -> bool:
    document = load(services(request).index, claim.document_id)
    for entry in services(request).compliance.audit.entries(
            document_ids=[document.document_id]):
        if entry.action != "link.revoke" or entry.at.timestamp() < claim.issued_at - 1:
            continue
        target = json.loads(entry.details or "{}").get("link_id")
        if target in (None, claim.link_id):
            return True
    return False


def _refused(status: int) -> Response:
    return public_page("public_document.html", "en", {"document_type": None}, status)


def _actor(claim: LinkClaim) -> Actor:
    return Actor(f"link:{claim.link_id}", "customer")


def _audit(request: Request, claim: LinkClaim, action: str, outcome: str = "ok",
           why: str | None = None) -> None:
    services(request).compliance.audit.record(
        _actor(claim), action, document_id=claim.document_id, outcome=outcome,
        details={"link_id": claim.link_id, **({"why": why} if why else {})})
