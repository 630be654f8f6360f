"""The channel sections of a job file: ``[routing]``, ``[email]`` and ``[sms]``.

Takes nothing; gives the pydantic models `JobSpec` embeds, checked like the rest of the job
(unknown keys are errors). What they mean:

- ``channels`` (top level) lists what the job may produce: ``pdf`` (the archived letter),
  ``print`` (that PDF queued for printing and posting), ``email`` and ``sms``.
- ``[routing]`` picks, per record, among them: the record's preferred channel
  (``preferred_field``), then ``fallback`` in order, the first one usable (a valid address and
  consent); plus ``always`` (e.g. the archived ``pdf``) and, for the document types listed in
  ``print_document_types`` (regulatory notices), ``print`` as well. Without ``[routing]``
  every record goes to every channel in ``channels``.
- ``[email]`` and ``[sms]``: the transport URL, sender, which record fields hold the address
  and the consent, and the channel's options (PDF attachment, List-Unsubscribe, segment limit,
  transliteration, HTTP gateway field names).
"""

from __future__ import annotations

from collections.abc import Sequence
from email.utils import parseaddr
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

ChannelName = Literal["pdf", "print", "email", "sms", "peppol", "webhook"]
DeliveryChannel = Literal["print", "email", "sms", "peppol", "webhook"]
PARTICIPANT_ID = r"^[0-9]{4}:[A-Za-z0-9+._-]{1,128}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class RoutingSpec(_Strict):
    """How each record's channels are chosen; see the module docstring."""

    preferred_field: str | None = None
    fallback: list[DeliveryChannel] = Field(default_factory=list)
    always: list[ChannelName] = Field(default_factory=list)
    print_document_types: list[str] = Field(default_factory=list)


class EmailSpec(_Strict):
    """``[email]``: an HTML email with a plain-text alternative, from the template set."""

    transport: str = "outbox:var/outbox"
    sender: str = Field(min_length=3)
    reply_to: str | None = None
    address_field: str = "email"
    consent_field: str | None = "consent_email"
    attach_pdf: bool = False
    message_class: Literal["service", "marketing"] = "service"
    unsubscribe: list[str] = Field(default_factory=list)
    rate_per_second: float = Field(default=0, ge=0)

    @field_validator("sender", "reply_to")
    @classmethod
    def _address(cls, value: str | None) -> str | None:
        if value is not None:
            _name, address = parseaddr(value)
            if "@" not in address:
                raise ValueError("expected an address like 'Northwind Bank <care@example.com>'")
        return value

    @field_validator("unsubscribe")
    @classmethod
    def _unsubscribe(cls, values: list[str]) -> list[str]:
        for value in values:
            if not value.startswith(("mailto:", "https:")):
                raise ValueError(f"{value!r}: List-Unsubscribe targets are mailto: or https: URLs")
        return values


class GatewaySpec(_Strict):
    """``[sms.gateway]``: the JSON an HTTP SMS gateway expects, and its answer."""

    to_field: str = "to"
    text_field: str = "text"
    sender_field: str = "from"
    key_field: str = "reference"
    encoding_field: str | None = None
    id_field: str = "id"
    auth_header: str = "Authorization"
    auth_scheme: str = "Bearer"
    timeout_seconds: float = Field(default=10.0, gt=0)


class SmsSpec(_Strict):
    """``[sms]``: a text message from the set's ``sms.txt``."""

    transport: str = "outbox:var/outbox"
    sender: str = Field(min_length=1, max_length=16)
    phone_field: str = "phone"
    consent_field: str | None = "consent_sms"
    default_region: str = Field(default="CZ", pattern=r"^[A-Z]{2}$")
    max_segments: int = Field(default=3, ge=1, le=255)
    transliterate: bool = False
    gateway: GatewaySpec = Field(default_factory=GatewaySpec)


class PeppolSpec(_Strict):
    """``[peppol]``: the invoice's Peppol BIS 3.0 UBL, handed to the sender's access point.

    ``transport`` is ``peppol+https://host/path`` (its token belongs in ``FACTORY_PEPPOL_URL``,
    not in the job file); ``sender_id`` the seller's participant id (Slovakia: ``0245:`` and
    the DIČ); ``participant_field`` the record field holding the buyer's participant id: a
    record with one is a business customer reachable over Peppol."""

    transport: str = Field(min_length=1)
    sender_id: str = Field(pattern=PARTICIPANT_ID)
    participant_field: str = "peppol_id"
    timeout_seconds: float = Field(default=10.0, gt=0)
    poll_seconds: float = Field(default=0.0, ge=0)
    poll_interval_seconds: float = Field(default=0.5, gt=0)


class WebhookSpec(_Strict):
    """``[webhook]``: a signed JSON notification POSTed to the customer's own URL.

    ``url_field`` names the record field holding the customer's endpoint (``https://``; plain
    ``http://`` only to loopback); ``link_base`` is where the documents are served (the HTTP
    service's address: the link is ``<link_base>/api/documents/<document id>/content``);
    ``transport`` is ``webhook:`` (the signing key comes from ``FACTORY_WEBHOOK_SECRET``,
    never from the job file)."""

    transport: str = "webhook:"
    url_field: str = "webhook_url"
    consent_field: str | None = None
    link_base: str = Field(pattern=r"^https?://[^/\s]+(/\S*)?$")
    timeout_seconds: float = Field(default=10.0, gt=0)


def webhook_problems(channels: Sequence[str], webhook: WebhookSpec | None,
                     fields: set[str]) -> list[str]:
    """Problems between ``[webhook]`` and the rest of the job, one line each."""
    if "webhook" not in channels:
        return []
    if webhook is None:
        return ["webhook: channel 'webhook' needs a [webhook] section (at least link_base)"]
    problems = [f"webhook.{name} {value!r} is not a field of [schema.fields]"
                for name in ("url_field", "consent_field")
                if (value := getattr(webhook, name)) and value not in fields]
    if "pdf" not in channels:
        problems.append("channels: 'webhook' links to the archived PDF: add 'pdf'")
    return problems


def channel_problems(channels: Sequence[str], routing: RoutingSpec | None, email: EmailSpec | None,
                     sms: SmsSpec | None, fields: set[str], peppol: PeppolSpec | None = None,
                     invoice: bool = False) -> list[str]:
    """Problems between the channel sections and the rest of the job, one line each."""
    problems = []
    offered = set(channels)
    if "peppol" in offered:
        if peppol is None:
            problems.append("peppol: channel 'peppol' needs a [peppol] section (transport,"
                            " sender_id)")
        elif peppol.participant_field not in fields:
            problems.append(f"peppol.participant_field {peppol.participant_field!r} is not a"
                            " field of [schema.fields]")
        if not invoice or "pdf" not in offered:
            problems.append("channels: 'peppol' sends the e-invoice of a numbered invoice:"
                            " it needs an [invoice] table and 'pdf'")
        elif routing is not None and "pdf" not in routing.always:
            problems.append("routing.always: add 'pdf': the Peppol invoice takes its number"
                            " from the archived PDF")
    if "email" in offered and email is None:
        problems.append("email: channel 'email' needs an [email] section (at least sender)")
    if "sms" in offered and sms is None:
        problems.append("sms: channel 'sms' needs an [sms] section (at least sender)")
    if email is not None and email.message_class == "marketing" and not email.unsubscribe:
        problems.append("email.unsubscribe: marketing email needs a mailto: or https:"
                        " unsubscribe target (List-Unsubscribe)")
    needs_pdf = "print" in offered or (email is not None and email.attach_pdf)
    if needs_pdf and "pdf" not in offered:
        problems.append("channels: 'print' and email attachments are the PDF: add 'pdf'")
    if routing is not None and needs_pdf and "pdf" in offered and "pdf" not in routing.always:
        problems.append("routing.always: add 'pdf': print and email attachments are the"
                        " archived PDF")
    if routing is not None:
        for where, names in (("routing.fallback", routing.fallback),
                             ("routing.always", routing.always)):
            for name in names:
                if name not in offered:
                    problems.append(f"{where}: {name!r} is not in channels")
        if routing.print_document_types and "print" not in offered:
            problems.append("routing.print_document_types: 'print' is not in channels")
        if routing.preferred_field and routing.preferred_field not in fields:
            problems.append(f"routing.preferred_field {routing.preferred_field!r} is not a field"
                            " of [schema.fields]")
    for section, spec, attributes in (("email", email, ("address_field", "consent_field")),
                                      ("sms", sms, ("phone_field", "consent_field"))):
        if spec is None or section not in offered:
            continue
        for attribute in attributes:
            value = getattr(spec, attribute)
            if value and value not in fields:
                problems.append(f"{section}.{attribute} {value!r} is not a field of"
                                " [schema.fields]")
    return problems
