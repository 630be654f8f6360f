"""Which records a job takes (``where``) and which named segment each belongs to.

Takes a job's ``where`` expression and ``[[segments]]`` (name, ``where``, optionally the
channels its records go to and the template variant their documents use) and one validated
record's JSON-safe data; gives the record's segment (and its variant), or why it is filtered
out (``"where"``: the job's filter is false; ``"no segment"``: segments are declared and none
matches). Expressions are evaluated by `simpleeval` (a
maintained safe evaluator: no attribute access, no imports, no calls beyond the few functions
below) over the record's fields, typed as the schema says (decimals as `Decimal`, dates as
`date`), plus ``locale`` (the record's locale as routing resolved it). For example::

    where = "opening_balance > 0 and locale in ['cs', 'sk']"

`check_expression` runs when the job file loads: a syntax error, or a name that is not a field
of ``[schema.fields]``, is a job error naming the expression and the name. An expression that
fails on one record (comparing a missing optional field) raises `RecordError` naming the
expression and the field, and the record is rejected with that reason: never dropped silently.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from simpleeval import EvalWithCompoundTypes, InvalidExpression

from factory.errors import RecordError

#: Names an expression may use beside the schema's fields.
EXTRA_NAMES = frozenset({"locale"})
CONSTANTS = {"true": True, "false": False, "True": True, "False": False, "None": None,
             "null": None}
FUNCTIONS = {"len": len, "abs": abs, "lower": lambda s: str(s).lower(),
             "upper": lambda s: str(s).upper()}
#: The label under which records the job-level filter leaves out are counted.
FILTERED_WHERE = "where"
#: The label under which records no segment takes are counted (when segments are declared).
FILTERED_NO_SEGMENT = "no segment"


class SegmentSpec(BaseModel):
    """``[[segments]]``: a named part of the job's records, first match wins."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")
    where: str = Field(min_length=1, max_length=2000)
    #: The channels of the job this segment's records go to (default: all the job's).
    channels: list[str] | None = None
    #: The template variant its records' documents are rendered with: a name under
    #: ``[variants]`` of the job's template set's ``set.toml`` (default: the set's document).
    variant: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")
    description: str = ""


def expression_names(expression: str, where: str = "where") -> set[str]:
    """The names ``expression`` reads; ValueError naming the expression if it does not parse."""
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except SyntaxError as exc:
        raise ValueError(f"{where} {expression!r} is not a valid expression: {exc.msg}"
                         f" (column {exc.offset})") from None
    called = {node.func.id for node in ast.walk(tree)
              if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)}
    return {node.id for node in ast.walk(tree)
            if isinstance(node, ast.Name) and node.id not in called} - set(CONSTANTS)


def check_expression(expression: str, fields: Iterable[str], where: str = "where") -> None:
    """A job error (ValueError) for a bad expression or a name that is no schema field."""
    known = set(fields) | EXTRA_NAMES
    unknown = sorted(expression_names(expression, where) - known)
    if unknown:
        raise ValueError(f"{where} {expression!r}: {', '.join(map(repr, unknown))} is not a"
                         f" field of [schema.fields] (known: {', '.join(sorted(known))})")
    tree = ast.parse(expression.strip(), mode="eval")
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            raise ValueError(f"{where} {expression!r}: no attribute access ('.{node.attr}')")
        if isinstance(node, ast.Call) and (not isinstance(node.func, ast.Name)
                                           or node.func.id not in FUNCTIONS):
            raise ValueError(f"{where} {expression!r}: only the functions"
                             f" {', '.join(FUNCTIONS)} may be called")


def check_segments(where: str | None, segments: list[SegmentSpec], fields: set[str],
                   channels: list[str]) -> None:
    """The job-file checks of ``where`` and ``[[segments]]`` (ValueError naming the problem)."""
    if where is not None:
        check_expression(where, fields, "where")
    names = [segment.name for segment in segments]
    if len(set(names)) != len(names):
        raise ValueError("segments: a segment name is used twice")
    for segment in segments:
        check_expression(segment.where, fields, f"segment {segment.name!r}: where")
        unknown = [c for c in segment.channels or [] if c not in channels]
        if unknown:
            raise ValueError(f"segment {segment.name!r}: channel(s) {', '.join(unknown)} not"
                             f" in the job's channels ({', '.join(channels)})")
        if segment.channels is not None and not segment.channels:
            raise ValueError(f"segment {segment.name!r}: channels is empty")


@dataclass(frozen=True)
class Verdict:
    segment: str | None = None
    filtered: str | None = None  # FILTERED_WHERE or FILTERED_NO_SEGMENT


class Segmenter:
    """The compiled filter and segments of one job."""

    def __init__(self, where: str | None, segments: list[SegmentSpec],
                 field_types: Mapping[str, str]) -> None:
        self.where = where.strip() if where else None
        self.segments = segments
        self.field_types = dict(field_types)
        self._evaluator = EvalWithCompoundTypes(functions=dict(FUNCTIONS))
        self._parsed = {text: self._evaluator.parse(text) for text in
                        [self.where, *(s.where.strip() for s in segments)] if text}

    @property
    def active(self) -> bool:
        return bool(self.where or self.segments)

    def classify(self, data: Mapping[str, Any], locale: str) -> Verdict:
        if not self.active:
            return Verdict()
        names = self._names(data, locale)
        if self.where and not self._true(self.where, names, "where"):
            return Verdict(filtered=FILTERED_WHERE)
        for segment in self.segments:
            if self._true(segment.where.strip(), names, f"segment {segment.name}"):
                return Verdict(segment=segment.name)
        return Verdict(filtered=FILTERED_NO_SEGMENT) if self.segments else Verdict()

    def channels_of(self, segment: str | None) -> list[str] | None:
        found = next((s for s in self.segments if s.name == segment), None)
        return found.channels if found is not None else None

    def variant_of(self, segment: str | None) -> str | None:
        found = next((s for s in self.segments if s.name == segment), None)
        return found.variant if found is not None else None

    def _names(self, data: Mapping[str, Any], locale: str) -> dict[str, Any]:
        names: dict[str, Any] = dict(CONSTANTS)
        for name, value in data.items():
            names[name] = _typed(value, self.field_types.get(name))
        names["locale"] = locale
        return names

    def _true(self, text: str, names: dict[str, Any], label: str) -> bool:
        self._evaluator.names = names
        try:
            return bool(self._evaluator.eval(text, previously_parsed=self._parsed[text]))
        except (InvalidExpression, TypeError, ValueError, ArithmeticError) as exc:
            used = expression_names(text)
            missing = sorted(n for n in used if names.get(n) is None)
            field = missing[0] if missing else (sorted(used)[0] if used else None)
            why = f"{field} is missing" if missing else f"{type(exc).__name__}: {exc}"
            raise RecordError(f"{label} {text!r} cannot be evaluated for this record: {why}",
                              field) from None


def _typed(value: Any, kind: str | None) -> Any:
    """A JSON-safe value as the schema types it (validated already: conversions succeed)."""
    if value is None or not isinstance(value, str):
        return value
    try:
        if kind == "decimal":
            return Decimal(value)
        if kind == "date":
            return date.fromisoformat(value)
    except (InvalidOperation, ValueError):
        return value
    return value


_CACHE: dict[tuple[str, str], Segmenter] = {}


def segment_channels(job: Any, data: Mapping[str, Any], locale: str) -> list[str]:
    """The job's channels narrowed to those of the record's segment, when it names some (the
    archived ``pdf`` always stays: print and email attachments are made from it). A record
    whose segment cannot be told keeps the job's channels (the run rejected it already)."""
    offered = list(job.channels)
    if not any(s.channels for s in getattr(job, "segments", [])):
        return offered
    segmenter = _cached(job)
    try:
        allowed = segmenter.channels_of(segmenter.classify(data, locale).segment)
    except RecordError:
        return offered
    if allowed is None:
        return offered
    return [c for c in offered if c == "pdf" or c in allowed]


def segment_variant(job: Any, data: Mapping[str, Any], locale: str) -> str | None:
    """The template variant of the record's segment, or None (the set's own document): no
    segment names one, the record is in none, or its segment cannot be told (the run
    rejected it already)."""
    if not any(s.variant for s in getattr(job, "segments", [])):
        return None
    segmenter = _cached(job)
    try:
        return segmenter.variant_of(segmenter.classify(data, locale).segment)
    except RecordError:
        return None


def segment_variants(job: Any) -> dict[str, str]:
    """{segment name: template variant} of the job's segments that name one."""
    return {s.name: s.variant for s in getattr(job, "segments", []) if s.variant}


def _cached(job: Any) -> Segmenter:
    key = (job.name, job.text or repr(job.segments))
    segmenter = _CACHE.get(key)
    if segmenter is None:
        if len(_CACHE) > 32:
            _CACHE.clear()
        segmenter = _CACHE[key] = segmenter_for(job)
    return segmenter


def segmenter_for(job: Any) -> Segmenter:
    """The `Segmenter` of a `JobSpec` (its ``where``, ``segments`` and field types)."""
    types = {name: spec.type for name, spec in job.record_schema.fields.items()}
    return Segmenter(getattr(job, "where", None), list(getattr(job, "segments", [])), types)
