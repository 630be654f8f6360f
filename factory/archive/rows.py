"""Typed rows of the index: what the archive's repositories take and give back.

Takes nothing; gives the slot identity (`Slot`), a held claim (`Claim`), who supersedes a
revision (`Supersession`), and frozen rows for runs, template versions, deliveries, numbers and
documents with their legal-hold flag, instead of ``dict[str, Any]``. Each row class reads a
row of its table (``from_row``) and writes a plain dict (``as_dict``) for JSON answers.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, fields
from datetime import datetime
from typing import Any, NamedTuple, Self

from sqlalchemy import ColumnElement, Table, and_, or_

from factory.archive.audit import Actor
from factory.archive.tables import SLOT
from factory.errors import ConfigError, RetryableArchiveError
from factory.models import ArchiveEntry


@dataclass(frozen=True, slots=True)
class Slot:
    """The identity of one document: at most one archived row per slot."""

    job: str
    period: str
    record_key: str
    channel: str
    document_type: str

    def where(self, table: Table) -> ColumnElement[bool]:
        return and_(*(table.c[name] == getattr(self, name) for name in SLOT))

    def values(self) -> dict[str, str]:
        return {name: getattr(self, name) for name in SLOT}

    def current(self, table: Table) -> ColumnElement[bool]:
        """The slot's current (not superseded) document row."""
        return and_(self.where(table), table.c.superseded_at.is_(None))


def slots_where(table: Table, slots: Iterable[Slot]) -> ColumnElement[bool]:
    """The rows of ``table`` in any of ``slots``, in one statement: an IN list of record keys
    per (job, period, channel, document type), which a chunk's slots share."""
    groups: dict[tuple[str, str, str, str], list[str]] = {}
    for slot in slots:
        groups.setdefault((slot.job, slot.period, slot.channel, slot.document_type),
                          []).append(slot.record_key)
    return or_(*(and_(table.c.job == job, table.c.period == period, table.c.channel == channel,
                      table.c.document_type == kind, table.c.record_key.in_(keys))
                 for (job, period, channel, kind), keys in groups.items()))


def slot_of(row: Any) -> Slot:
    """The `Slot` of a row of a table keyed by slot (documents, claims)."""
    return Slot(row.job, row.period, row.record_key, row.channel, row.document_type)


def attempt_name(token: str) -> str:
    """The name of a claim's attempt in the storage keys it writes."""
    return token[:12]


@dataclass(frozen=True, slots=True)
class Claim:
    slot: Slot
    run_id: str
    token: str
    existing: ArchiveEntry | None
    existing_held: bool = False
    epoch: int = 0
    #: The attempt name of the claim this one took over (a dead or stale attempt), if any:
    #: its objects can never become a document now, so the new holder may remove them.
    taken_from: str | None = None

    @property
    def attempt(self) -> str:
        """A name unique to this attempt, for the objects it writes (see `document_key`)."""
        return attempt_name(self.token)


@dataclass(frozen=True, slots=True)
class Supersession:
    """Who replaces a slot's current document with a new revision, and why."""

    actor: Actor
    reason: str


class ClaimBusy(RetryableArchiveError):
    """Another live worker of the same run holds this record."""


class RunConflict(ConfigError):
    """Another run of the same job and period is still running."""


_ENTRY_FIELDS = tuple(ArchiveEntry.__dataclass_fields__)


def entry_from_row(row: Mapping[Any, Any]) -> ArchiveEntry:
    """The `ArchiveEntry` of a row of the documents table."""
    return ArchiveEntry(**{name: row[name] for name in _ENTRY_FIELDS})


def entry_values(entry: ArchiveEntry) -> dict[str, Any]:
    """The columns of a new documents row for ``entry`` (never on hold when written)."""
    values = entry.as_dict()
    values["legal_hold"] = False
    return values


class _Row:
    """``from_row`` and ``as_dict`` for the frozen row dataclasses below."""

    @classmethod
    def from_row(cls, row: Mapping[Any, Any]) -> Self:
        return cls(**{f.name: row[f.name] for f in fields(cls)})  # type: ignore[arg-type]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)  # type: ignore[call-overload, no-any-return]


@dataclass(frozen=True, slots=True)
class RunRow(_Row):
    """One run of a job for a period (``report``: the last report written, parsed)."""

    run_id: str
    job: str
    period: str
    status: str
    dry_run: bool
    executor: str
    workers: int
    template_version: str
    started_at: datetime
    heartbeat_at: datetime
    owner: str
    finished_at: datetime | None
    report: dict[str, Any] | None
    epoch: int
    actor: str
    reason: str | None

    @classmethod
    def from_row(cls, row: Mapping[Any, Any]) -> RunRow:
        values = dict(row)
        values["report"] = json.loads(values["report"]) if values.get("report") else None
        return cls(**{f.name: values[f.name] for f in fields(cls)})


@dataclass(frozen=True, slots=True)
class TemplateVersionRow(_Row):
    """A template-set version the index registered, and where its snapshot is stored."""

    version: str
    template_set: str
    brand: str
    storage_key: str
    first_used_at: datetime


@dataclass(frozen=True, slots=True)
class DeliveryRow(_Row):
    """One send (email, SMS, webhook) or print hand-over of one record."""

    delivery_key: str
    job: str
    period: str
    record_key: str
    channel: str
    document_type: str
    run_id: str
    status: str
    document_id: str | None
    storage_key: str | None
    recipient: str | None
    transport: str | None
    message_id: str | None
    attempts: int
    reason: str | None
    created_at: datetime
    updated_at: datetime
    sent_at: datetime | None


class IssuedNumber(NamedTuple):
    """A number assigned in a series (a tuple, as the numbering table's rows always were)."""

    number: int
    record_key: str
    document_id: str


@dataclass(frozen=True, slots=True)
class NumberRow(_Row):
    """The numbering table's row of one issued number."""

    series: str
    number: int
    job: str
    period: str
    record_key: str
    document_type: str
    document_id: str
    assigned_at: datetime


@dataclass(frozen=True)
class Document:
    """One archived document: its index row and whether it is on legal hold."""

    entry: ArchiveEntry
    legal_hold: bool

    @property
    def document_id(self) -> str:
        return self.entry.document_id

    @property
    def file_name(self) -> str:
        """``<document id>.<ext>``: the name a download gets (storage keys also carry the
        attempt that wrote the object, which means nothing to a reader)."""
        key = self.entry.storage_key.rsplit("/", 1)[-1]
        return f"{self.entry.document_id}.{key.rsplit('.', 1)[-1]}" if "." in key else key

    def as_dict(self) -> dict[str, Any]:
        """JSON-safe: every index field, datetimes in ISO 8601 UTC."""
        values = self.entry.as_dict()
        for name, value in values.items():
            if isinstance(value, datetime):
                values[name] = value.isoformat()
        values["legal_hold"] = self.legal_hold
        return values

    @classmethod
    def from_row(cls, row: Mapping[Any, Any]) -> Document:
        return cls(entry_from_row(row), bool(row["legal_hold"]))
