"""Which records a proof renders: the job's ``proofs`` list plus edge cases found in the input.

Takes a `Source`, the job's `RecordSchema` and the job; gives a `Selection`: the records named
in the job's ``proofs = [...]`` (in that order), then the edge cases, each record once with every
reason it was picked for:

- ``longest name``: the longest value of the record field ``name`` (when the schema has one);
- ``most line items`` and ``fewest line items`` (when the schema has line items);
- ``most empty optional fields``: the most optional schema fields left empty (when any is);
- ``locale xx``: the first record of every locale of the job that the input has;
- ``variant v (segment s)``: the first record of every segment that names a template variant,
  so a proof shows every variant's pages.

The input is read once, streaming, in constant memory: only the current best candidate of each
category (and the listed records found so far) is kept. Records that fail the schema are
skipped and counted; a listed key that is missing, or rejected, is a `ConfigError` naming it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from factory.errors import ConfigError, RecordError
from factory.jobs import JobSpec, RecordSchema
from factory.jobs.segments import segment_variants, segmenter_for
from factory.models import Record, Reject
from factory.sources import Source

NAME_FIELD = "name"


@dataclass
class ProofRecord:
    """One record to proof and why it was chosen."""

    record: Record
    reasons: list[str] = field(default_factory=list)

    @property
    def key(self) -> str:
        return self.record.key


@dataclass
class Selection:
    records: list[ProofRecord]
    scanned: int = 0
    rejected: int = 0


class _Best:
    """The record with the highest score seen so far (the first one on ties)."""

    def __init__(self, reason: str, score: Callable[[Record], int], minimum: int = 0,
                 lowest: bool = False) -> None:
        self.reason = reason
        self.score = score
        self.minimum = minimum
        self.lowest = lowest
        self.record: Record | None = None
        self.value = 0

    def offer(self, record: Record) -> None:
        value = self.score(record)
        if self.lowest:
            value = -value
        if self.record is None or value > self.value:
            self.record, self.value = record, value

    @property
    def winner(self) -> Record | None:
        if self.record is None:
            return None
        shown = -self.value if self.lowest else self.value
        return self.record if shown >= self.minimum else None


def _edge_trackers(job: JobSpec) -> list[_Best]:
    schema = job.record_schema
    trackers = []
    if NAME_FIELD in schema.fields:
        trackers.append(_Best("longest name",
                              lambda r: len(str(r.data.get(NAME_FIELD) or "")), minimum=1))
    if schema.items is not None:
        items = schema.items.field
        trackers.append(_Best("most line items", lambda r: len(r.data.get(items) or [])))
        trackers.append(_Best("fewest line items", lambda r: len(r.data.get(items) or []),
                              lowest=True))
    optional = [name for name, spec in schema.fields.items() if not spec.required]
    if optional:
        trackers.append(_Best(
            "most empty optional fields",
            lambda r: sum(1 for name in optional if r.data.get(name) in (None, "")),
            minimum=1))
    return trackers


def select_records(source: Source, schema: RecordSchema, job: JobSpec) -> Selection:
    """Read ``source`` once and pick the proof records (see the module docstring)."""
    wanted = list(dict.fromkeys(job.proofs))
    listed: dict[str, Record] = {}
    refused: dict[str, str] = {}
    trackers = _edge_trackers(job)
    first_of_locale: dict[str, Record] = {}
    variants = segment_variants(job)
    segmenter = segmenter_for(job) if variants else None
    first_of_segment: dict[str, Record] = {}
    scanned = rejected = 0
    for raw in source.records():
        scanned += 1
        if isinstance(raw, Reject):
            rejected += 1
            if raw.key in wanted:
                refused.setdefault(raw.key, raw.describe())
            continue
        try:
            record = schema.validate(raw)
        except RecordError as exc:
            rejected += 1
            key = str(raw.data.get(job.key_field) or "").strip()
            if key in wanted:
                refused.setdefault(key, f"{raw.position}: {exc}")
            continue
        if record.key in wanted and record.key not in listed:
            listed[record.key] = record
        for tracker in trackers:
            tracker.offer(record)
        first_of_locale.setdefault(record.locale, record)
        if segmenter is not None:
            try:
                segment = segmenter.classify(record.data, record.locale).segment
            except RecordError:
                segment = None  # the run rejects it: no proof of a variant from it
            if segment in variants:
                first_of_segment.setdefault(segment, record)
    problems = []
    for key in wanted:
        if key in listed:
            continue
        if key in refused:
            problems.append(f"{key}: rejected by the schema: {refused[key]}")
        else:
            problems.append(f"{key}: not in {source.name}")
    if problems:
        raise ConfigError(f"{job.label}: proofs lists record(s) that cannot be proofed",
                          problems)

    chosen: dict[str, ProofRecord] = {}

    def add(record: Record | None, reason: str) -> None:
        if record is None:
            return
        entry = chosen.setdefault(record.key, ProofRecord(record))
        entry.reasons.append(reason)

    for key in wanted:
        add(listed[key], "listed in proofs")
    for tracker in trackers:
        add(tracker.winner, tracker.reason)
    for locale in job.locales:
        add(first_of_locale.get(locale), f"locale {locale}")
    for segment, variant in variants.items():
        add(first_of_segment.get(segment), f"variant {variant} (segment {segment})")
    return Selection(list(chosen.values()), scanned=scanned, rejected=rejected)
