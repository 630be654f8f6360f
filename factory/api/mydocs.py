"""``/my``: a customer lists their own documents after a one-time code.

Takes, with no API key (`factory.api.guard` lets these three routes through, throttled), what
the customer typed (a customer id, or the email address or phone number on record), then the
code; gives three minimal public pages: the form, the code form, and the list of the
customer's documents (name, date, download through a fresh signed link of `factory.api.links`,
nothing else) in the customer's language.

- **No enumeration**: the answer to a code request is the same page, at once, whether or not
  anyone matched; finding the customer and sending the code happen after it, in a thread
  (`factory.api.customer`), so not even the timing tells.
- **Codes** (`factory.api.codes`, `pyotp`): six digits, valid 10 minutes, single-use, five
  attempts per code; a wrong code counts against the client like a failed login (past
  ``FACTORY_API_AUTH_FAILURES`` a minute: 429). A client may ask for 10 codes and a customer
  be sent 3 in 15 minutes; beyond that nothing is sent (and the page says the same).
- **Audited**: ``otp.request`` (the client), ``otp.send`` or ``otp.unmatched`` (found or not:
  only the audit log knows), ``otp.verify`` (the customer), ``otp.refused`` (why), and the
  ``link.issue`` of every download link on the list. Never the code, the secret or the
  address typed.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from babel.dates import format_date
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from factory.api.codes import LIFETIME_SECONDS, Challenge, CodeBook, CodeRefused
from factory.api.customer import Contact, customer_documents, find_contact, send_code
from factory.api.guard import client_of, note_failure
from factory.api.i18n import COOKIE, choose
from factory.api.links import issue_link
from factory.api.pages import public_page
from factory.api.security import services
from factory.compliance import Actor
from factory.errors import FactoryError

PATH = "/my"
#: Download links on the list page live this long (days): the list is for now.
LINK_DAYS = 1 / 24
_LOG = logging.getLogger("docfactory.api.mydocs")
_BOOK_LOCK = threading.Lock()


def code_book(request: Request) -> CodeBook:
    """The app's pending codes (one book per server process), made on first use."""
    svc = services(request)
    with _BOOK_LOCK:
        if svc.codes is None:
            svc.codes = CodeBook()
        book: CodeBook = svc.codes
    return book


def _lang(request: Request) -> str:
    return choose(request.query_params.get("lang"), request.cookies.get(COOKIE),
                  request.headers.get("accept-language"))


def _page(lang: str, step: str, status: int = 200, **values: Any) -> HTMLResponse:
    context = {"challenge": "", "wrong": False, "documents": [], **values, "step": step}
    response = public_page("my_documents.html", lang, context, status)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def my_documents_router() -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get(PATH, response_class=HTMLResponse)
    def ask(request: Request) -> Response:
        return _page(_lang(request), "ask")

    @router.post(PATH, response_class=HTMLResponse)
    def request_code(request: Request, who: str = Form("", max_length=320)) -> Response:
        lang, svc, book = _lang(request), services(request), code_book(request)
        client = client_of(request.scope)
        anonymous = Actor(f"client:{client}", "anonymous")
        if not book.clients.take(client):
            svc.compliance.audit.record(anonymous, "otp.request", outcome="denied",
                                        details={"why": "too many code requests"})
            return _page(lang, "busy", 429)
        challenge = book.issue()
        svc.compliance.audit.record(anonymous, "otp.request",
                                    details={"challenge": challenge.challenge_id[:8]})
        threading.Thread(target=_find_and_send, args=(svc, book, challenge, who),
                         name="docfactory-otp", daemon=True).start()
        return _page(lang, "code", challenge=challenge.challenge_id)

    @router.post(PATH + "/code", response_class=HTMLResponse)
    def enter_code(request: Request, challenge: str = Form("", max_length=64),
                   code: str = Form("", max_length=12)) -> Response:
        lang, svc, book = _lang(request), services(request), code_book(request)
        try:
            customer_id = book.verify(challenge, code)
        except CodeRefused as refused:
            svc.compliance.audit.record(
                Actor(f"client:{client_of(request.scope)}", "anonymous"), "otp.refused",
                outcome="denied", details={"why": refused.why, "challenge": challenge[:8]})
            note_failure(request, "otp", None)
            return _page(lang, "code", 401, challenge=challenge, wrong=True)
        actor = Actor(f"otp:{challenge[:8]}", "customer")
        svc.compliance.audit.record(actor, "otp.verify", details={"customer_id": customer_id})
        documents = customer_documents(svc, customer_id)
        shown = documents[0].locale if documents else lang
        listed = [{"document_type": d.document_type, "period": d.period,
                   "date": format_date(d.created_at.date(), "long", locale=d.locale),
                   "url": issue_link(request, actor, d.document_id, LINK_DAYS)["url"]}
                  for d in documents]
        return _page(shown, "list", documents=listed)

    return router


def _find_and_send(svc: Any, book: CodeBook, challenge: Challenge, who: str) -> None:
    """Off the request's path: find the customer, bind the challenge, send the code."""
    anonymous = Actor("otp:" + challenge.challenge_id[:8], "anonymous")
    try:
        contact: Contact | None = find_contact(svc, who)
        if contact is None:
            svc.compliance.audit.record(anonymous, "otp.unmatched", outcome="denied",
                                        details={"challenge": challenge.challenge_id[:8]})
            return
        actor = Actor(anonymous.id, "customer")
        if not book.customers.take(contact.customer_id):
            svc.compliance.audit.record(actor, "otp.send", outcome="denied", details={
                "customer_id": contact.customer_id, "why": "too many codes for this customer"})
            return
        book.bind(challenge, contact.customer_id)
        send_code(svc, contact, challenge.code, f"otp-{challenge.challenge_id[:16]}",
                  int(LIFETIME_SECONDS // 60))
        svc.compliance.audit.record(actor, "otp.send", details={
            "customer_id": contact.customer_id, "channel": contact.channel,
            "job": contact.job.name})
    except (FactoryError, OSError) as exc:
        _LOG.warning("one-time code not sent: %s", type(exc).__name__)
        try:
            svc.compliance.audit.record(anonymous, "otp.send", outcome="failed",
                                        details={"error": type(exc).__name__})
        except FactoryError:
            _LOG.warning("the audit entry of an unsent one-time code was not written")
