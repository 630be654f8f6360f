"""Routing: which channels one validated record goes to, and which are left out and why.

Takes a `JobSpec` and a validated `Record`; gives a `Route`. A pure function of the two (no
I/O, no clock), so the dry run, the workers and the tests all agree::

    targets = routing.always                                   (e.g. the archived pdf)
            + the first usable of [preferred] + routing.fallback
            + print, when the job's document type is in routing.print_document_types

A channel is usable when the record has a valid address for it (email-validator for email,
phonenumbers with the job's default region for SMS, normalised to E.164) and the consent its
``consent_field`` names is true. Each channel tried before the usable one is *suppressed* with
its reason (invalid address, no consent, consent missing); the channels after it are not tried.
When none is usable the route has a ``failure``: the record fails, naming every reason. Without
``[routing]`` every channel of ``channels`` is a target, and an unusable email or SMS channel
is a failure (there is nothing to fall back to).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from factory.jobs import JobSpec
from factory.jobs.channels import PARTICIPANT_ID
from factory.jobs.segments import segment_channels
from factory.models import CHANNEL_ORDER, Channel, Record, Route

_PARTICIPANT = re.compile(PARTICIPANT_ID)


def check_email(value: Any) -> tuple[str | None, str | None]:
    """(normalised address, None) or (None, reason)."""
    if value is None or not str(value).strip():
        return None, "no email address"
    try:
        valid = validate_email(str(value).strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        return None, f"invalid email address: {exc}"
    if valid.ascii_email is None:
        return None, "email address needs SMTPUTF8 (a non-ASCII mailbox name)"
    return valid.ascii_email, None


def check_phone(value: Any, region: str) -> tuple[str | None, str | None]:
    """(E.164 number, None) or (None, reason); numbers without +country use ``region``."""
    if value is None or not str(value).strip():
        return None, "no phone number"
    try:
        number = phonenumbers.parse(str(value), region)
    except phonenumbers.NumberParseException as exc:
        return None, f"unparseable phone number: {exc}"
    if not phonenumbers.is_valid_number(number):
        return None, f"invalid phone number for region {region}"
    kind = phonenumbers.number_type(number)
    if kind not in (phonenumbers.PhoneNumberType.MOBILE,
                    phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE):
        return None, "not a mobile phone number"
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), None


def check_webhook_url(value: Any) -> tuple[str | None, str | None]:
    """(URL, None) or (None, reason): an ``https://`` URL with a host, or ``http://`` to
    loopback (a receiver on the same machine); no credentials in it."""
    text = str(value or "").strip()
    if not text:
        return None, "no webhook URL"
    try:
        parts = urlsplit(text)
        host = parts.hostname
    except ValueError:
        return None, "invalid webhook URL"
    if not host or parts.scheme not in ("https", "http") or parts.username or parts.password:
        return None, "invalid webhook URL (expected https://host/path, without credentials)"
    if parts.scheme == "http" and host not in ("127.0.0.1", "localhost", "::1"):
        return None, "webhook URL must use https (plain http only to loopback)"
    return text, None


def _consent(data: Mapping[str, Any], field: str | None) -> str | None:
    """None when consent is given (or not required), else the reason."""
    if not field:
        return None
    value = data.get(field)
    if value is None or value == "":
        return f"consent missing ({field} is empty)"
    if value is True or str(value).strip().lower() in {"true", "1", "yes"}:
        return None
    return f"no consent ({field} is {value})"


def _usable(job: JobSpec, record: Record, channel: str) -> tuple[str | None, dict[str, str]]:
    """(reason it cannot be used, or None; addresses found)."""
    data = record.data
    if channel == Channel.EMAIL and job.email is not None:
        address, problem = check_email(data.get(job.email.address_field))
        problem = problem or _consent(data, job.email.consent_field)
        return problem, ({"email": address} if address else {})
    if channel == Channel.SMS and job.sms is not None:
        phone, problem = check_phone(data.get(job.sms.phone_field), job.sms.default_region)
        problem = problem or _consent(data, job.sms.consent_field)
        return problem, ({"phone": phone} if phone else {})
    if channel == Channel.PEPPOL and job.peppol is not None:
        value = str(data.get(job.peppol.participant_field) or "").strip()
        if not value:
            return "no Peppol participant id (not a business customer on Peppol)", {}
        if not _PARTICIPANT.match(value):
            return f"invalid Peppol participant id {value!r} (expected SCHEME:ID)", {}
        return None, {"peppol": value}
    if channel == Channel.WEBHOOK and job.webhook is not None:
        url, problem = check_webhook_url(data.get(job.webhook.url_field))
        problem = problem or _consent(data, job.webhook.consent_field)
        return problem, ({"webhook": url} if url else {})
    return None, {}


def route_record(job: JobSpec, record: Record) -> Route:
    """The channels ``record`` goes to under ``job``'s routing rules."""
    offered = segment_channels(job, record.data, record.locale)  # [[segments]] channels
    routing = job.routing
    targets: set[str] = set()
    suppressed: list[tuple[str, str]] = []
    found: dict[str, str] = {}
    failure = None
    if routing is None:
        for channel in offered:
            problem, addresses = _usable(job, record, channel)
            found.update(addresses)
            if problem:
                suppressed.append((channel, problem))
            else:
                targets.add(channel)
        if suppressed:
            failure = "; ".join(f"{c}: {why}" for c, why in suppressed)
    else:
        targets.update(c for c in routing.always if c in offered)
        if job.document_type in routing.print_document_types:
            targets.add(Channel.PRINT)
        candidates: list[str] = []
        preferred = record.data.get(routing.preferred_field) if routing.preferred_field else None
        if isinstance(preferred, str) and preferred in offered and preferred != Channel.PDF:
            candidates.append(preferred)
        candidates += [c for c in routing.fallback if c not in candidates and c in offered]
        for channel in candidates:
            problem, addresses = _usable(job, record, channel)
            found.update(addresses)
            if problem is None:
                targets.add(channel)
                break
            suppressed.append((channel, problem))
        else:
            # peppol is for the business customers on Peppol: the others keep their channels
            if any(c != Channel.PEPPOL for c in candidates):
                failure = "no channel can take it: " + "; ".join(
                    f"{c}: {why}" for c, why in suppressed)
    ordered = tuple(c.value for c in CHANNEL_ORDER if c.value in targets)
    return Route(ordered, tuple(suppressed), found.get("email"), found.get("phone"), failure,
                 found.get("peppol"), found.get("webhook"))


def channel_usable(job: JobSpec, record: Record, channel: str
                   ) -> tuple[str | None, dict[str, str]]:
    """(why ``channel`` cannot take ``record``, or None; the addresses found): the check routing
    makes, for a fallback chosen at send time (`factory.pipeline.fallback`)."""
    return _usable(job, record, channel)


def fallback_order(job: JobSpec, record: Record) -> list[str]:
    """The channels routing tries for ``record``, in order: its preference, then fallbacks."""
    routing = job.routing
    if routing is None:
        return []
    offered = segment_channels(job, record.data, record.locale)
    order: list[str] = []
    preferred = record.data.get(routing.preferred_field) if routing.preferred_field else None
    if isinstance(preferred, str) and preferred in offered and preferred != Channel.PDF:
        order.append(preferred)
    return order + [c for c in routing.fallback if c not in order and c in offered]


__all__ = ["channel_usable", "check_email", "check_phone", "check_webhook_url", "fallback_order",
           "route_record"]
