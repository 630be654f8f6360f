"""Planning: the input stream turned into records to render, and rejects with reasons.

Takes a `Source`, the job's `RecordSchema` and a `SeenKeys`; gives, lazily and in input order,
a `Record` for every valid record and a `Reject` for every record that is unparseable, fails
the schema, or repeats a key seen earlier (naming where it was first seen). Nothing is held in
memory beyond the record being looked at. `dry_run` is the planner of ``run --dry-run``: the
records routed and counted with the workers' own routing and "done already" checks.
"""

from __future__ import annotations

from collections.abc import Iterator

from factory.archive.index import SqlIndex
from factory.errors import RecordError
from factory.jobs import JobSpec, RecordSchema
from factory.models import ChannelOutcome, ChannelStatus, Outcome, Record, Reject, Status
from factory.pipeline.channels import done_keys
from factory.routing import route_record
from factory.runner.accounting import RunState
from factory.runner.progress import Progress
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


def dry_run(job: JobSpec, period: str, state: RunState, index: SqlIndex,
            chunks: Iterator[list[Record]], progress: Progress) -> None:
    """Route every record and count, per channel, what a run would do; send nothing.

    Routing is the workers' (`route_record`) and "done already" is each channel's own check
    (`factory.pipeline.channels.done_keys`: the index rows or delivery rows a worker would skip
    on). A record counts as skipped when every channel it is routed to is done already; a
    record routing cannot place counts as failed (it would fail the same way in the run)."""
    for batch in chunks:
        keys = [r.key for r in batch]
        done: dict[str, set[str]] = {
            channel: done_keys(channel, index, job, period, keys) for channel in job.channels}
        for record in batch:
            route = route_record(job, record)
            if route.failure:  # counted, written and summed as a real run does
                state.report.routing["no channel"] = state.report.routing.get(
                    "no channel", 0) + 1
                state.outcome(Outcome(
                    record.key, record.position, Status.FAILED,
                    reason=f"routing: {route.failure}",
                    channels=tuple(ChannelOutcome(channel, ChannelStatus.SUPPRESSED,
                                                  reason=why)
                                   for channel, why in route.suppressed)))
                continue
            for channel, reason in route.suppressed:
                state.suppressed(record.key, channel, reason, record.position)
            for channel in route.channels:
                state.report.routing[channel] = state.report.routing.get(channel, 0) + 1
            if route.channels and all(record.key in done.get(c, set())
                                      for c in route.channels):
                state.counts.skipped += 1
        progress.update(state.counts)
