"""The record schema of a job, as a pydantic model built from ``[schema]``.

Takes a `JobSpec`; gives a `RecordSchema` whose ``validate`` turns a `RawRecord` into a
`Record` (JSON-safe values) or raises `RecordError` naming the field and what was expected, and
whose ``typed`` turns a record's JSON-safe data back into Python values (Decimal, date) for
templates. Strings from CSV are stripped; an empty string counts as a missing value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Annotated, Any

import phonenumbers
from babel.numbers import format_decimal
from email_validator import EmailNotValidError, validate_email
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    create_model,
)
from pydantic_core import ErrorDetails

from factory.errors import RecordError
from factory.jobs.spec import FieldSpec, JobSpec, SchemaSpec
from factory.models import RawRecord, Record

#: A record key becomes part of a storage path, so it is restricted to a safe alphabet.
KEY_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")

#: At most this many field problems are named per rejected record.
MAX_PROBLEMS = 3

_EXPECTED = {
    "string": "text",
    "integer": "a whole number",
    "decimal": "a decimal number like 1234.50",
    "date": "a date like 2026-11-30",
    "boolean": "true or false",
    "email": "an email address",
    "phone": "a phone number in international form like +420 601 123 456",
}


def _blank_to_none(value: Any) -> Any:
    if isinstance(value, str):
        value = value.strip()
        if value == "":
            return None
        if not value.isascii():
            try:
                value.encode("utf-8")  # lone surrogates: bytes that were not UTF-8
            except UnicodeEncodeError:
                raise ValueError("contains bytes that are not valid UTF-8") from None
    return value


def _not_blank(value: Any) -> Any:
    value = _blank_to_none(value)
    if value is None:
        raise ValueError("required, but empty")
    return value


def _check_email(value: str) -> str:
    try:
        return validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise ValueError(f"not a valid email address: {exc}") from None


def _check_phone(value: str) -> str:
    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException as exc:
        raise ValueError(f"not a phone number in international form: {exc}") from None
    if not phonenumbers.is_valid_number(number):
        raise ValueError("not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _locale_decimal(locale: str) -> Any:
    """A before-validator reading ``12 345,50`` as written in ``locale`` (Babel, strict)."""
    from babel.numbers import NumberFormatError, get_group_symbol, parse_decimal

    group = get_group_symbol(locale=locale)

    def parse(value: Any, info: ValidationInfo) -> Any:
        if not isinstance(value, str) or (info.context or {}).get("canonical"):
            return value  # typed(): data this schema already validated, in the plain form
        text = value.strip()
        if group in {"\u00a0", "\u202f"}:
            # CLDR groups with a no-break space; people and spreadsheets type a plain one.
            text = text.replace(" ", group)
        try:
            return parse_decimal(text, locale=locale, strict=True)
        except NumberFormatError:
            raise ValueError(f"not a number as written in {locale} (like"
                             f" {format_decimal(Decimal('12345.50'), locale=locale)})") from None

    return BeforeValidator(parse)


def _python_type(spec: FieldSpec, decimal_locale: str | None = None) -> Any:
    constraints: dict[str, Any] = {}
    validators: list[Any] = []
    if spec.type in {"string", "email", "phone"}:
        base: Any = str
        if spec.min_length is not None:
            constraints["min_length"] = spec.min_length
        if spec.max_length is not None:
            constraints["max_length"] = spec.max_length
        if spec.pattern is not None:
            constraints["pattern"] = spec.pattern
        if spec.type == "email":
            validators.append(AfterValidator(_check_email))
        if spec.type == "phone":
            validators.append(AfterValidator(_check_phone))
    elif spec.type == "integer":
        base = int
    elif spec.type == "decimal":
        base = Decimal
        constraints["allow_inf_nan"] = False
        if decimal_locale:
            validators.insert(0, _locale_decimal(decimal_locale))
    elif spec.type == "date":
        base = date
    else:
        base = bool
    if spec.type in {"integer", "decimal"}:
        if spec.min is not None:
            constraints["ge"] = spec.min
        if spec.max is not None:
            constraints["le"] = spec.max
    if spec.choices:
        choices = set(spec.choices)

        def _in_choices(value: Any) -> Any:
            if str(value) not in choices:
                raise ValueError(f"must be one of {', '.join(sorted(choices))}")
            return value

        validators.append(AfterValidator(_in_choices))
    inner = Annotated[base, Field(**constraints), *validators]
    if spec.required:
        return Annotated[inner, BeforeValidator(_not_blank)], ...
    return Annotated[inner | None, BeforeValidator(_blank_to_none)], None


def _model(name: str, fields: Mapping[str, FieldSpec], extra: dict[str, Any],
           decimal_locale: str | None = None) -> type[BaseModel]:
    definitions = {field_name: _python_type(spec, decimal_locale)
                   for field_name, spec in fields.items()}
    definitions.update(extra)
    return create_model(
        name,
        __config__=ConfigDict(extra="ignore", str_strip_whitespace=True, frozen=True),
        **definitions,
    )


class RecordSchema:
    """Validates raw records of one job into `Record` values."""

    def __init__(self, job: JobSpec) -> None:
        self.job = job
        schema: SchemaSpec = job.record_schema
        extra: dict[str, Any] = {}
        self.items_field = schema.items.field if schema.items else None
        if schema.items:
            item_model = _model("LineItem", schema.items.fields, {}, schema.decimal_locale)
            extra[schema.items.field] = (
                Annotated[list[item_model], Field(min_length=schema.items.min_items,  # type: ignore[valid-type]
                                                  max_length=schema.items.max_items)],
                [],
            )
        self.model = _model("RecordModel", schema.fields, extra, schema.decimal_locale)
        self.field_types = {name: spec.type for name, spec in schema.fields.items()}
        if schema.items:
            self.item_types = {name: spec.type for name, spec in schema.items.fields.items()}
        else:
            self.item_types = {}

    def validate(self, raw: RawRecord) -> Record:
        """Validate one raw record; raise `RecordError` with the first field at fault."""
        try:
            model = self.model.model_validate(dict(raw.data))
        except ValidationError as exc:
            raise self._record_error(exc) from None
        data = model.model_dump(mode="json")
        key = str(data[self.job.key_field])
        if not KEY_PATTERN.match(key):
            raise RecordError(
                "record key must be 1-128 letters, digits, '.', '_' or '-' and start with a"
                f" letter or digit (it becomes part of a storage path), got {key!r}",
                self.job.key_field,
            )
        return Record(
            key=key,
            customer_id=str(data[self.job.customer_field]),
            locale=self._locale(data),
            position=raw.position,
            data=data,
        )

    def typed(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """JSON-safe record data back to Python values (Decimal, date) for templates."""
        return self.model.model_validate(dict(data), context={"canonical": True}).model_dump()

    def _locale(self, data: Mapping[str, Any]) -> str:
        field = self.job.locale_field
        value = data.get(field) if field else None
        if not value:
            return self.job.default_locale
        value = str(value).replace("-", "_")
        if value in self.job.locales:
            return value
        language = value.split("_", 1)[0].lower()
        if language in self.job.locales:
            return language
        raise RecordError(
            f"locale {value!r} is not one of this job's locales ({', '.join(self.job.locales)})",
            field,
        )

    def _record_error(self, exc: ValidationError) -> RecordError:
        problems = []
        first_field = None
        errors = exc.errors(include_url=False)
        for error in errors[:MAX_PROBLEMS]:
            field, kind = self._describe_loc(error["loc"])
            first_field = first_field or field
            problems.append(f"{field}: {self._describe(error, kind)}")
        if len(errors) > MAX_PROBLEMS:
            problems.append(f"and {len(errors) - MAX_PROBLEMS} more problem(s)")
        return RecordError("; ".join(problems), first_field)

    def _describe_loc(self, loc: tuple[Any, ...]) -> tuple[str, str | None]:
        if self.items_field and loc and loc[0] == self.items_field and len(loc) >= 3:
            return f"{loc[0]}[{int(loc[1]) + 1}].{loc[2]}", self.item_types.get(str(loc[2]))
        name = ".".join(str(p) for p in loc)
        return name, self.field_types.get(str(loc[0])) if loc else None

    @staticmethod
    def _describe(error: ErrorDetails, kind: str | None) -> str:
        value = error.get("input")
        shown = repr(value) if not isinstance(value, dict | list) else type(value).__name__
        if len(shown) > 60:
            shown = shown[:57] + "...'"
        if error["type"] == "missing":
            return "required, missing"
        if error["type"] in {"too_short", "too_long"} and isinstance(value, list):
            return error["msg"].replace("List", "the list of items")
        if error["type"] == "value_error":
            return str(error["msg"]).removeprefix("Value error, ")
        expected = _EXPECTED.get(kind or "", "")
        if error["type"].endswith(("_parsing", "_type")) and expected:
            return f"expected {expected}, got {shown}"
        return f"{error['msg']} (got {shown})"

