"""Planning: the input stream turned into records to render, and rejects with reasons.

Takes a `Source`, the job's `RecordSchema` and a `SeenKeys`; gives, lazily and in input order,
a `Record` for every valid record and a `Reject` for every record that is unparseable, fails
the schema, or repeats a key seen earlier (naming where it was first seen). Nothing is held in
memory beyond the record being looked at.
"""

from __future__ import annotations

from collections.abc import Iterator

from factory.errors import RecordError
from factory.jobs import RecordSchema
from factory.models import Record, Reject
from factory.sources import SeenKeys, Source


def plan_records(source: Source, schema: RecordSchema, seen: SeenKeys,
                 limit: int | None = None) -> Iterator[Record | Reject]:
    produced = 0
    for raw in source.records():
        if limit is not None and produced >= limit:
            return
        produced += 1
        if isinstance(raw, Reject):
            yield raw
            continue
        try:
            record = schema.validate(raw)
        except RecordError as exc:
            key = raw.data.get(schema.job.key_field)
            yield Reject(raw.position, exc.reason, exc.field,
                         str(key).strip() if isinstance(key, str | int) and key else None)
            continue
        first = seen.first_seen(record.key, record.position)
        if first is not None:
            yield Reject(record.position, f"duplicate record key, first seen at {first}",
                         schema.job.key_field, record.key)
            continue
        yield record
