"""The job file: what a batch reads, how it validates records, and what it produces.

Takes a TOML file from ``jobs/``; gives a validated, frozen `JobSpec`. Every problem is reported
as ``<file>: <dotted.field>: <what is expected>``, all of them at once, and an unknown key is an
error (a typo must never silently switch an option off).
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from babel import Locale, UnknownLocaleError
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from factory.config import SLUG
from factory.errors import ConfigError
from factory.jobs.channels import (
    ChannelName,
    EmailSpec,
    GatewaySpec,
    PeppolSpec,
    RoutingSpec,
    SmsSpec,
    WebhookSpec,
    channel_problems,
    webhook_problems,
)
from factory.jobs.invoice import InvoiceSpec, PaymentSpec, SellerSpec
from factory.jobs.notify import NotifySpec
from factory.jobs.print import AddressFields, MarksSpec, OmrSpec, PrintSpec
from factory.jobs.schedule import ScheduleSpec
from factory.jobs.seal import SealSpec
from factory.jobs.segments import SegmentSpec, check_segments

FieldType = Literal["string", "integer", "decimal", "date", "boolean", "email", "phone"]
PdfVariant = Literal["none", "pdf/a-3b", "pdf/a-3a", "pdf/ua-1"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class FieldSpec(_Strict):
    """One field of the record schema."""

    type: FieldType = "string"
    required: bool = True
    min_length: int | None = Field(default=None, ge=0)
    max_length: int | None = Field(default=None, ge=1)
    pattern: str | None = None
    choices: list[str] | None = None
    min: float | None = None
    max: float | None = None
    description: str = ""

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"not a valid regular expression: {exc}") from None
        return value


class ItemsSpec(_Strict):
    """The nested line items of a record (transactions, invoice lines)."""

    field: str = "items"
    min_items: int = Field(default=0, ge=0)
    max_items: int | None = Field(default=None, ge=1)
    fields: dict[str, FieldSpec]


class SchemaSpec(_Strict):
    fields: dict[str, FieldSpec]
    items: ItemsSpec | None = None
    #: Decimal fields are written the way this locale writes numbers (``12 345,50`` for
    #: ``cs``), parsed with Babel; None: the plain form ``12345.50``.
    decimal_locale: str | None = None

    @field_validator("decimal_locale")
    @classmethod
    def _known_locale(cls, value: str | None) -> str | None:
        if value is not None:
            from babel import Locale, UnknownLocaleError

            try:
                Locale.parse(value.replace("-", "_"))
            except (UnknownLocaleError, ValueError):
                raise ValueError(f"{value!r} is not a locale Babel knows") from None
            return value.replace("-", "_")
        return value

    @model_validator(mode="after")
    def _no_clash(self) -> SchemaSpec:
        if self.items and self.items.field in self.fields:
            raise ValueError(f"items.field {self.items.field!r} is also a record field")
        if not self.fields:
            raise ValueError("the schema needs at least one field")
        return self


class CsvItems(_Strict):
    """Line items in a second CSV file, joined to the records by a key column."""

    path: str
    key: str
    delimiter: str = Field(default=",", min_length=1, max_length=1)


class CsvSource(_Strict):
    type: Literal["csv"]
    path: str
    delimiter: str = Field(default=",", min_length=1, max_length=1)
    items: CsvItems | None = None


class JsonlSource(_Strict):
    type: Literal["jsonl"]
    path: str


class SqlSource(_Strict):
    """A parent query, plus an optional line-item query joined on ``items_key``."""

    type: Literal["sql"]
    url: str
    query: str
    key: str
    items_query: str | None = None
    items_key: str | None = None
    items_order_by: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _items_key(self) -> SqlSource:
        if self.items_query and not self.items_key:
            raise ValueError("items_query needs items_key (the column that joins it to query)")
        for column in [self.key, self.items_key or "x", *self.items_order_by]:
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,62}", column):
                raise ValueError(f"{column!r} is not a plain column name")
        return self


Source = Annotated[CsvSource | JsonlSource | SqlSource, Field(discriminator="type")]


class RenderSpec(_Strict):
    pdf_variant: PdfVariant = "pdf/a-3b"
    tagged: bool = True


class ArchiveSpec(_Strict):
    store: str | None = None
    index: str | None = None


def _pdf_only() -> list[ChannelName]:
    return ["pdf"]


class JobSpec(_Strict):
    """A validated job file. ``path`` is where it was read from."""

    name: str = Field(pattern=SLUG)
    description: str = ""
    document_type: str = Field(pattern=SLUG)
    template_set: str = Field(pattern=SLUG)
    brand: str = Field(pattern=SLUG)
    key_field: str
    customer_field: str
    locale_field: str | None = None
    default_locale: str = "en"
    locales: list[str] = Field(default_factory=lambda: ["en", "cs", "sk", "uk", "bg"],
                               min_length=1)
    channels: list[ChannelName] = Field(default_factory=_pdf_only, min_length=1)
    retention_class: str = "statement"
    source: Source
    record_schema: SchemaSpec = Field(alias="schema")
    render: RenderSpec = Field(default_factory=RenderSpec)
    archive: ArchiveSpec = Field(default_factory=ArchiveSpec)
    print_: PrintSpec = Field(default_factory=PrintSpec, alias="print")
    invoice: InvoiceSpec | None = None
    payment: PaymentSpec | None = None
    seal: SealSpec | None = None
    proofs: list[str] = Field(default_factory=list)
    require_approval: bool = False
    routing: RoutingSpec | None = None
    email: EmailSpec | None = None
    sms: SmsSpec | None = None
    peppol: PeppolSpec | None = None
    webhook: WebhookSpec | None = None
    schedule: ScheduleSpec | None = None  # ops: `docfactory scheduler` (factory/jobs/schedule.py)
    notify: NotifySpec | None = None  # ops: run notifications (factory/jobs/notify.py)
    #: Which records the job takes, and named segments (see `factory.jobs.segments`).
    where: str | None = Field(default=None, max_length=2000)
    segments: list[SegmentSpec] = Field(default_factory=list)
    #: How long a customer's signed link to a document of this job stays valid (days).
    link_days: float = Field(default=30, gt=0, le=3650)
    path: Path | None = Field(default=None, exclude=True)
    #: The job file's text as it was validated: what workers parse (never the file again), so
    #: a job file edited during a run cannot change half a batch.
    text: str | None = Field(default=None, exclude=True)

    @field_validator("locales")
    @classmethod
    def _known_locales(cls, values: list[str]) -> list[str]:
        for value in values:
            try:
                Locale.parse(value)
            except (UnknownLocaleError, ValueError):
                raise ValueError(f"{value!r} is not a locale Babel knows") from None
        return values

    @model_validator(mode="after")
    def _fields_exist(self) -> JobSpec:
        fields = self.record_schema.fields
        for name in ("key_field", "customer_field", "locale_field"):
            value = getattr(self, name)
            if value is not None and value not in fields:
                raise ValueError(f"{name} {value!r} is not a field of [schema.fields]")
        if self.default_locale not in self.locales:
            raise ValueError(f"default_locale {self.default_locale!r} is not in locales")
        if isinstance(self.source, CsvSource) and self.source.items and not \
                self.record_schema.items:
            raise ValueError("source.items is set but the schema has no [schema.items]")
        if len(set(self.channels)) != len(self.channels):
            raise ValueError("channels: a channel is listed twice")
        problems = channel_problems(self.channels, self.routing, self.email, self.sms,
                                    set(fields), self.peppol, self.invoice is not None)
        problems += webhook_problems(list(self.channels), self.webhook, set(fields))
        if problems:
            raise ValueError("; ".join(problems))
        check_segments(self.where, self.segments, set(fields), list(self.channels))
        return self

    @property
    def label(self) -> str:
        return str(self.path) if self.path else self.name


def load_job(path: str | Path) -> JobSpec:
    """Read and validate a job file; raise `ConfigError` listing every problem."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: job file not found")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    return parse_job_text(text, path)


def parse_job_text(text: str, path: Path) -> JobSpec:
    """Validate the text of the job file at ``path`` (relative paths in it resolve there)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    return parse_job(data, path, text)


def parse_job(data: dict[str, Any], path: Path, text: str | None = None) -> JobSpec:
    try:
        spec = JobSpec.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{path}: invalid job file", describe_errors(exc, data)) from None
    return spec.model_copy(update={"path": path.resolve(), "text": text})


def describe_errors(exc: ValidationError, data: Any) -> list[str]:
    """Turn pydantic's errors into one line each: dotted field, what is expected, what was got."""
    lines = []
    for error in exc.errors(include_url=False):
        loc = [part for part in error["loc"] if not _is_union_tag(part)]
        where = ".".join(str(part) for part in loc) or "(top level)"
        kind = error["type"]
        if kind == "extra_forbidden":
            allowed = _allowed_keys(loc[:-1], data)
            hint = f" (allowed here: {', '.join(allowed)})" if allowed else ""
            lines.append(f"{where}: unknown key{hint}")
        elif kind == "missing":
            lines.append(f"{where}: required, missing")
        elif kind == "union_tag_invalid":
            lines.append(f"{where}: type must be one of 'csv', 'jsonl', 'sql'")
        else:
            got = error.get("input")
            shown = "" if isinstance(got, dict | list) else f" (got {got!r})"
            lines.append(f"{where}: {error['msg']}{shown}")
    return lines


def _is_union_tag(part: Any) -> bool:
    return part in {"csv", "jsonl", "sql"}


def _lookup(data: Any, loc: list[Any]) -> Any:
    for part in loc:
        if isinstance(data, dict):
            data = data.get(part)
        elif isinstance(data, list) and isinstance(part, int) and part < len(data):
            data = data[part]
        else:
            return None
    return data


_SECTIONS: dict[str, type[BaseModel]] = {
    "": JobSpec, "render": RenderSpec, "archive": ArchiveSpec, "schema": SchemaSpec,
    "print": PrintSpec, "print.marks": MarksSpec, "print.omr": OmrSpec,
    "print.address": AddressFields, "invoice": InvoiceSpec, "invoice.seller": SellerSpec,
    "routing": RoutingSpec, "seal": SealSpec, "email": EmailSpec, "sms": SmsSpec,
    "sms.gateway": GatewaySpec, "webhook": WebhookSpec,
}


_SOURCES: dict[str, type[BaseModel]] = {"csv": CsvSource, "jsonl": JsonlSource, "sql": SqlSource}


def _allowed_keys(loc: list[Any], data: Any) -> list[str]:
    key = ".".join(str(p) for p in loc)
    model = _SECTIONS.get(key)
    if model is None:
        if key.startswith("schema.fields.") or (key.startswith("schema.items.fields.")):
            model = FieldSpec
        elif key == "schema.items":
            model = ItemsSpec
        elif key == "source.items":
            model = CsvItems
        elif key == "source":
            source = _lookup(data, ["source"]) or {}
            kind = source.get("type") if isinstance(source, dict) else None
            model = _SOURCES.get(kind) if isinstance(kind, str) else None
            if model is None:
                return []
        else:
            return []
    names = []
    for name, info in model.model_fields.items():
        if name == "path" and model is JobSpec:
            continue
        names.append(info.alias or name)
    return sorted(names)
