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
from jinja2 import Environment

from factory.api.codes import LIFETIME_SECONDS, Challenge, CodeBook, CodeRefused
from factory.api.customer import Contact, customer_documents, find_contact, send_code
from factory.api.guard import client_of, note_failure
from factory.api.i18n import COOKIE, choose
from factory.api.links import TEXTS as LINK_TEXTS
from factory.api.links import issue_link
from factory.api.security import services
from factory.compliance import Actor
from factory.errors import FactoryError

PATH = "/my"
#: Download links on the list page live this long (days): the list is for now.
LINK_DAYS = 1 / 24
_LOG = logging.getLogger("docfactory.api.mydocs")
_BOOK_LOCK = threading.Lock()

TEXTS: dict[str, dict[str, str]] = {
    "en": {"title": "Your documents", "ask": "Enter your customer number, or the email address"
           " or phone number (with +country code) we have for you. We will send you a"
           " one-time code.", "who": "Customer number, email or phone", "send": "Send me a code",
           "sent": "If we know you, we have sent a one-time code to the email address or"
           " phone number we have for you. It is valid for 10 minutes.", "code": "Code",
           "show": "Show my documents", "wrong": "That code is not valid. Check it, or ask"
           " for a new one.", "again": "Ask for a new code", "none": "There are no"
           " documents yet.", "date": "Date", "download": "Download (PDF)",
           "busy": "Too many requests. Try again later."},
    "cs": {"title": "Vaše dokumenty", "ask": "Zadejte své číslo klienta nebo e-mail či"
           " telefon (s předvolbou +420), které u nás máte. Pošleme vám jednorázový kód.",
           "who": "Číslo klienta, e-mail nebo telefon", "send": "Poslat kód",
           "sent": "Pokud vás známe, poslali jsme jednorázový kód na e-mail nebo telefon,"
           " který u nás máte. Platí 10 minut.", "code": "Kód", "show": "Zobrazit dokumenty",
           "wrong": "Tento kód není platný. Zkontrolujte jej, nebo požádejte o nový.",
           "again": "Požádat o nový kód", "none": "Zatím zde nejsou žádné dokumenty.",
           "date": "Datum", "download": "Stáhnout (PDF)",
           "busy": "Příliš mnoho požadavků. Zkuste to později."},
    "sk": {"title": "Vaše dokumenty", "ask": "Zadajte svoje číslo klienta alebo e-mail či"
           " telefón (s predvoľbou +421), ktoré u nás máte. Pošleme vám jednorazový kód.",
           "who": "Číslo klienta, e-mail alebo telefón", "send": "Poslať kód",
           "sent": "Ak vás poznáme, poslali sme jednorazový kód na e-mail alebo telefón,"
           " ktorý u nás máte. Platí 10 minút.", "code": "Kód", "show": "Zobraziť dokumenty",
           "wrong": "Tento kód nie je platný. Skontrolujte ho alebo požiadajte o nový.",
           "again": "Požiadať o nový kód", "none": "Zatiaľ tu nie sú žiadne dokumenty.",
           "date": "Dátum", "download": "Stiahnuť (PDF)",
           "busy": "Príliš veľa požiadaviek. Skúste to neskôr."},
    "uk": {"title": "Ваші документи", "ask": "Введіть номер клієнта або email чи телефон"
           " (з кодом країни +...), які ми маємо. Ми надішлемо вам одноразовий код.",
           "who": "Номер клієнта, email або телефон", "send": "Надіслати код",
           "sent": "Якщо ми вас знаємо, ми надіслали одноразовий код на email або телефон,"
           " які маємо. Він дійсний 10 хвилин.", "code": "Код", "show": "Показати документи",
           "wrong": "Цей код недійсний. Перевірте його або запросіть новий.",
           "again": "Запросити новий код", "none": "Документів ще немає.",
           "date": "Дата", "download": "Завантажити (PDF)",
           "busy": "Забагато запитів. Спробуйте пізніше."},
    "bg": {"title": "Вашите документи", "ask": "Въведете клиентския си номер или имейла или"
           " телефона (с код +...), които имаме. Ще ви изпратим еднократен код.",
           "who": "Клиентски номер, имейл или телефон", "send": "Изпратете ми код",
           "sent": "Ако ви познаваме, изпратихме еднократен код на имейла или телефона,"
           " които имаме. Валиден е 10 минути.", "code": "Код",
           "show": "Покажи документите", "wrong": "Този код е невалиден. Проверете го или"
           " поискайте нов.", "again": "Поискайте нов код", "none": "Все още няма"
           " документи.", "date": "Дата", "download": "Изтегляне (PDF)",
           "busy": "Твърде много заявки. Опитайте по-късно."},
}

_PAGE = Environment(autoescape=True).from_string("""<!doctype html>
<html lang="{{ lang }}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex"><title>{{ t.title }}</title>
<style>body{font-family:sans-serif;max-width:36rem;margin:3rem auto;padding:0 1rem}
input{font-size:1rem;padding:.4rem;width:100%;box-sizing:border-box;margin:.3rem 0 .8rem}
button{padding:.6rem 1rem;background:#1d4ed8;color:#fff;border:0;border-radius:.3rem}
td{padding:.3rem .6rem .3rem 0}</style></head><body>
<h1>{{ t.title }}</h1>
{% if step == "ask" %}<p>{{ t.ask }}</p>
<form method="post" action="/my?lang={{ lang }}"><label>{{ t.who }}
<input name="who" maxlength="320" autocomplete="username" required></label>
<button>{{ t.send }}</button></form>
{% elif step == "code" %}<p class="sent">{{ t.sent }}</p>
{% if wrong %}<p class="wrong">{{ t.wrong }}</p>{% endif %}
<form method="post" action="/my/code?lang={{ lang }}">
<input type="hidden" name="challenge" value="{{ challenge }}"><label>{{ t.code }}
<input name="code" inputmode="numeric" autocomplete="one-time-code" maxlength="12"
required></label><button>{{ t.show }}</button></form>
<p><a href="/my?lang={{ lang }}">{{ t.again }}</a></p>
{% elif step == "list" %}{% if documents %}<table class="documents">
{% for d in documents %}<tr><td class="name">{{ d.name }}</td>
<td class="date">{{ d.date }}</td><td><a href="{{ d.url }}">{{ t.download }}</a></td></tr>
{% endfor %}</table>{% else %}<p class="none">{{ t.none }}</p>{% endif %}
{% else %}<p class="busy">{{ t.busy }}</p>{% endif %}
</body></html>""")


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
    response = HTMLResponse(_PAGE.render(lang=lang, t=TEXTS[lang], step=step, **values), status)
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
        lang = shown.split("_")[0] if shown.split("_")[0] in TEXTS else "en"
        names = LINK_TEXTS[lang]
        listed = [{"name": f"{names.get(d.document_type, d.document_type.title())}"
                           f" {d.period}",
                   "date": format_date(d.created_at.date(), "long", locale=d.locale),
                   "url": issue_link(request, actor, d.document_id, LINK_DAYS)["url"]}
                  for d in documents]
        return _page(lang, "list", documents=listed)

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
