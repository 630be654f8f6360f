"""Who a customer is and how to reach them, from the archive alone; and the code sent there.

Takes what a customer typed on the public page (a customer id, or an email address or phone
number) and the app's services; gives the `Contact` on record (`find_contact`): the customer
id, the channel and address the code goes to, the job whose transport and sender send it, and
the customer's language. The customer is found by id in the index (their archived PDFs), or by
an address the factory has sent to (the ``deliveries`` recipients: an email address as
email-validator normalises it, a phone number in E.164 with its +country code). The address
*on record* is the one in the record snapshot of the customer's newest document whose job has
an ``[email]`` (or ``[sms]``) section; an address typed that is not the one on record now
reaches nobody. `send_code` sends the one-time code through that job's transport (the
transport URL from the environment or ``docfactory.toml`` first, then the job file's), in the
customer's language, as a transactional message (consent flags are for marketing).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape
from typing import Any

from factory.api.catalog import load_catalog
from factory.config import resolve_url
from factory.deliver import TransportOptions, open_transport
from factory.errors import FactoryError
from factory.jobs import JobSpec
from factory.messages.email import EmailParts, build_email
from factory.messages.sms import analyse
from factory.models import ArchiveEntry, Message
from factory.routing import check_email, check_phone

MAX_INPUT = 320

#: The code message, per language: (email subject, text with {code} and {minutes}).
MESSAGES: dict[str, tuple[str, str]] = {
    "en": ("Your one-time code", "Your one-time code is {code}. It is valid for {minutes}"
           " minutes. If you did not ask for it, ignore this message."),
    "cs": ("Váš jednorázový kód", "Váš jednorázový kód je {code}. Platí {minutes} minut."
           " Pokud jste o něj nežádali, zprávu ignorujte."),
    "sk": ("Váš jednorazový kód", "Váš jednorazový kód je {code}. Platí {minutes} minút."
           " Ak ste oň nežiadali, správu ignorujte."),
    "uk": ("Ваш одноразовий код", "Ваш одноразовий код: {code}. Він дійсний {minutes} хвилин."
           " Якщо ви його не запитували, проігноруйте це повідомлення."),
    "bg": ("Вашият еднократен код", "Вашият еднократен код е {code}. Валиден е {minutes}"
           " минути. Ако не сте го поискали, игнорирайте това съобщение."),
}


@dataclass(frozen=True)
class Contact:
    customer_id: str
    channel: str  # "email" or "sms"
    address: str
    job: JobSpec
    language: str


def language_of(locale: str) -> str:
    lang = locale.split("_")[0]
    return lang if lang in MESSAGES else "en"


def customer_documents(svc: Any, customer_id: str) -> list[ArchiveEntry]:
    """The customer's current archived documents (the PDFs; messages and print files aside),
    newest first."""
    found = [entry for entry in svc.index.documents.entries(customer_id=customer_id)
             if entry.channel == "pdf"]
    return sorted(found, key=lambda e: (e.created_at, e.document_id), reverse=True)


def find_contact(svc: Any, typed: str) -> Contact | None:
    """The customer ``typed`` names and their address on record, or None (nobody, or no way
    to reach them)."""
    text = " ".join(typed.split())[:MAX_INPUT]
    if not text:
        return None
    wanted: tuple[str, str] | None = None  # (channel, address) the customer typed
    if "@" in text:
        address, _why = check_email(text)
        if address is None:
            return None
        wanted = ("email", address)
    elif text.startswith("+"):
        phone, _why = check_phone(text, "ZZ")
        if phone is None:
            return None
        wanted = ("sms", phone)
    customer_id = text if wanted is None else _customer_by_address(svc, *wanted)
    if customer_id is None:
        return None
    documents = customer_documents(svc, customer_id)
    if not documents:
        return None
    jobs, _problems = load_catalog(svc.config.jobs_dir)
    for entry in documents:
        job = jobs.get(entry.job)
        if job is None or not entry.record_storage_key:
            continue
        record = _snapshot_record(svc, entry)
        for channel, address in _addresses(job, record):
            if wanted is None or (wanted[0], wanted[1].lower()) == (channel, address.lower()):
                return Contact(customer_id, channel, address, job, language_of(entry.locale))
    return None


def _customer_by_address(svc: Any, channel: str, address: str) -> str | None:
    """The customer the factory sent to ``address`` (an email address as typed, or in lower
    case: mailbox names are case-insensitive in practice)."""
    for candidate in dict.fromkeys((address, address.lower())):
        for row in svc.index.deliveries.where(channel=channel, recipient=candidate):
            for entry in svc.index.documents.entries(job=row.job, record_key=row.record_key):
                return str(entry.customer_id)
    return None


def _snapshot_record(svc: Any, entry: ArchiveEntry) -> dict[str, Any]:
    try:
        snapshot = json.loads(svc.store.get(entry.record_storage_key))
    except (FactoryError, OSError, ValueError):
        return {}
    record = snapshot.get("record") if isinstance(snapshot, dict) else None
    return record if isinstance(record, dict) else {}


def _addresses(job: JobSpec, record: dict[str, Any]) -> list[tuple[str, str]]:
    """(channel, address) on record for ``job``'s email and SMS sections, email first."""
    found = []
    if job.email is not None:
        address, _why = check_email(record.get(job.email.address_field))
        if address is not None:
            found.append(("email", address))
    if job.sms is not None:
        phone, _why = check_phone(record.get(job.sms.phone_field), job.sms.default_region)
        if phone is not None:
            found.append(("sms", phone))
    return found


def send_code(svc: Any, contact: Contact, code: str, key: str, minutes: int) -> None:
    """Send ``code`` to the contact through its job's transport; raises a `FactoryError`."""
    job, settings = contact.job, svc.settings
    subject, text = MESSAGES[contact.language]
    body = text.format(code=code, minutes=minutes)
    if contact.channel == "email":
        assert job.email is not None
        data, message_id = build_email(EmailParts(
            subject=subject, html=f"<p>{escape(body)}</p>", text=body + "\n",
            sender=job.email.sender, recipient=contact.address, key=key,
            date=datetime.now(UTC)))
        message = Message("email", key, contact.address, job.email.sender, data,
                          {"message_id": message_id})
        url = settings.transport_url("email") or job.email.transport
        options = TransportOptions(channel="email")
    else:
        assert job.sms is not None
        message = Message("sms", key, contact.address, job.sms.sender, body.encode("utf-8"),
                          {"encoding": analyse(body).encoding})
        url = settings.transport_url("sms") or job.sms.transport
        options = TransportOptions(channel="sms", gateway=job.sms.gateway.model_dump())
    transport = open_transport(resolve_url(url, settings) or url, options)
    try:
        transport.send(message)
    finally:
        transport.close()
