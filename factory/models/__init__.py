"""The values that flow through the factory, left to right.

Takes nothing, gives frozen dataclasses. Everything that crosses a process boundary (a worker
chunk, an outcome) is built from plain values, so it pickles and serialises to JSON::

    RawRecord ──validate──► Record ──route──► Route ──render──► Artifact ──archive──► ArchiveEntry
        │                      │                                 Message ──deliver──► Receipt
        └──────► Reject        └────────────────► Outcome ◄──── ChannelOutcome (one per channel)
                                                   │
                                                   ▼
                                               RunReport (per record and per channel counts)
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import date as date_type
from datetime import datetime
from enum import StrEnum
from typing import Any

from factory.models.report import ChannelCounts, Counts, RunReport


@dataclass(frozen=True, slots=True)
class Position:
    """Where a record came from: the source name, its 1-based record number and line."""

    source: str
    index: int
    line: int | None = None

    def __str__(self) -> str:
        if self.line is not None:
            return f"{self.source}:{self.line} (record {self.index})"
        return f"{self.source} (record {self.index})"


@dataclass(frozen=True, slots=True)
class RawRecord:
    """One record as the source read it: untyped values, nested line items already joined."""

    position: Position
    data: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Record:
    """One validated record. ``data`` is JSON-safe (decimals and dates as strings)."""

    key: str
    customer_id: str
    locale: str
    position: Position
    data: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Reject:
    """A record refused before rendering, with the field at fault and the reason."""

    position: Position
    reason: str
    field: str | None = None
    key: str | None = None

    def describe(self) -> str:
        where = str(self.position)
        who = f" key {self.key!r}" if self.key else ""
        return f"{where}{who}: {self.reason}"


@dataclass(frozen=True, slots=True)
class Artifact:
    """One rendered output: bytes plus what the archive needs to know about them."""

    channel: str
    media_type: str
    extension: str
    data: bytes
    sha256: str
    page_count: int | None = None

    @classmethod
    def of(
        cls, channel: str, media_type: str, extension: str, data: bytes,
        page_count: int | None = None,
    ) -> Artifact:
        return cls(channel, media_type, extension, data, hashlib.sha256(data).hexdigest(),
                   page_count)

    @property
    def byte_size(self) -> int:
        return len(self.data)


@dataclass(frozen=True, slots=True)
class ArchiveEntry:
    """One index row: everything compliance needs to find and prove a document."""

    document_id: str
    job: str
    run_id: str
    period: str
    record_key: str
    customer_id: str
    document_type: str
    channel: str
    locale: str
    template_version: str
    page_count: int | None
    byte_size: int
    sha256: str
    storage_key: str
    media_type: str
    created_at: datetime
    retention_until: datetime
    revision: int = 1
    record_storage_key: str | None = None
    record_sha256: str | None = None
    #: Set when a later revision (``superseded_by``, a document id) or a withdrawal (None)
    #: took this one's place; the row and its objects stay until retention.
    superseded_at: datetime | None = None
    superseded_by: str | None = None
    superseded_actor: str | None = None
    supersede_reason: str | None = None
    #: Who the document is for, as the record names them (searchable; None before 0008).
    customer_name: str | None = None
    account: str | None = None

    @property
    def current(self) -> bool:
        return self.superseded_at is None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class Channel(StrEnum):
    """Where a communication goes. ``pdf`` is the archived letter; ``print`` is that same PDF
    queued for printing and posting (the print stream picks it up); ``email`` and ``sms`` are
    rendered from their own templates and sent through a transport."""

    PDF = "pdf"
    PRINT = "print"
    EMAIL = "email"
    SMS = "sms"
    PEPPOL = "peppol"  # the invoice's UBL handed to the sender's Peppol access point
    WEBHOOK = "webhook"  # a signed JSON notification with the document's link


#: The order channels of one record are processed in: the PDF first (print and email
#: attachments need it), then print, then the sends.
CHANNEL_ORDER = (Channel.PDF, Channel.PRINT, Channel.EMAIL, Channel.SMS, Channel.PEPPOL,
                 Channel.WEBHOOK)


@dataclass(frozen=True, slots=True)
class Route:
    """Where one record goes: the channels it must reach, and the ones left out and why.

    ``failure`` is set when no channel of the preference and fallbacks could take it.
    ``email`` and ``phone`` are the validated, normalised addresses (E.164 for phones).
    """

    channels: tuple[str, ...]
    suppressed: tuple[tuple[str, str], ...] = ()
    email: str | None = None
    phone: str | None = None
    failure: str | None = None
    peppol: str | None = None  # the buyer's Peppol participant id (``0245:2020317068``)
    webhook: str | None = None  # the customer's notification URL


@dataclass(frozen=True, slots=True)
class Message:
    """One message ready for a transport: the bytes that are archived are the bytes sent.

    ``body`` is the RFC 5322 message (email) or the UTF-8 text (SMS); ``key`` is the
    idempotency key, the same on every attempt; ``meta`` holds channel details (SMS encoding
    and segments, the email Message-ID)."""

    channel: str
    key: str
    recipient: str
    sender: str
    body: bytes
    meta: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Receipt:
    """A transport's proof that it accepted a message."""

    key: str
    transport: str
    message_id: str
    accepted_at: datetime
    detail: str = ""


class DeliveryStatus(StrEnum):
    """What the index knows about one send (the ``deliveries`` table)."""

    SENDING = "sending"      # recorded before the send; no proof of delivery yet
    SENT = "sent"            # the transport accepted it (message id recorded)
    FAILED = "failed"        # the transport refused it, or retries ran out
    UNKNOWN = "unknown"      # a crash left it "sending" and the transport cannot tell: held
    QUEUED = "queued"        # print: waiting for the print stream


class ChannelStatus(StrEnum):
    """What became of one channel of one record."""

    DONE = "done"              # pdf archived, print queued, email/sms sent
    SKIPPED = "skipped"        # done by an earlier run
    SUPPRESSED = "suppressed"  # left out by routing (no consent, invalid address)
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class ChannelOutcome:
    channel: str
    status: ChannelStatus
    rendered: bool = False
    reason: str | None = None
    retryable: bool = False
    document_id: str | None = None
    message_id: str | None = None
    #: A newer run took this record over (the fence): neither run counts it failed, and the
    #: channels after this one are left to the newer run.
    handed_over: bool = False


class Status(StrEnum):
    """What became of one validated record in a run."""

    ARCHIVED = "archived"
    SKIPPED = "skipped"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Outcome:
    """The result of processing one record in a worker."""

    key: str
    position: Position
    status: Status
    pages: int = 0
    byte_size: int = 0
    document_ids: tuple[str, ...] = ()
    reason: str | None = None
    retryable: bool = False
    rendered: bool = False
    channels: tuple[ChannelOutcome, ...] = ()


__all__ = [
    "CHANNEL_ORDER",
    "ArchiveEntry",
    "Artifact",
    "Channel",
    "ChannelCounts",
    "ChannelOutcome",
    "ChannelStatus",
    "Counts",
    "DeliveryStatus",
    "Message",
    "Outcome",
    "Period",
    "Position",
    "RawRecord",
    "Receipt",
    "Record",
    "Reject",
    "Route",
    "RunReport",
    "Status",
]


@dataclass(frozen=True, slots=True)
class Period:
    """A run period: a month ``2026-11`` or a day ``2026-11-23``."""

    code: str
    start: date_type
    end: date_type

    @classmethod
    def parse(cls, code: str) -> Period:
        text = str(code).strip()
        try:
            if len(text) == 7:
                start = date_type.fromisoformat(text + "-01")
                nxt = date_type(start.year + start.month // 12, start.month % 12 + 1, 1)
                return cls(text, start, date_type.fromordinal(nxt.toordinal() - 1))
            if len(text) == 10:
                day = date_type.fromisoformat(text)
                return cls(text, day, day)
        except ValueError:
            pass
        raise ValueError(f"period {code!r} is not a month like 2026-11 or a day like 2026-11-23")
