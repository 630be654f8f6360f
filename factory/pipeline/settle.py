"""What the index says of a record whose unit of work was cut off (a time limit, a dead process).

Takes the job, the record, the index entry of its PDF (or None) and the run id; gives the
record's outcome when this run archived it and the archive is the record's only channel, else
None: the record failed, and the next attempt or a rerun finishes it (a channel beside the PDF,
an email say, may not have gone out). Light (no WeasyPrint): workers and the Celery coordinator
both use it.
"""

from __future__ import annotations

from factory.jobs import JobSpec
from factory.models import ArchiveEntry, ChannelOutcome, ChannelStatus, Outcome, Record, Status
from factory.pipeline.config import CHANNEL
from factory.routing import route_record


def archived_by_run(job: JobSpec, record: Record, entry: ArchiveEntry | None,
                    run_id: str) -> Outcome | None:
    """The outcome of ``record`` if ``entry`` shows this run archived it and that was all it
    had to do; None otherwise."""
    if entry is None or entry.run_id != run_id:
        return None
    route = route_record(job, record)
    if route.failure or route.channels != (CHANNEL,):
        return None
    suppressed = tuple(ChannelOutcome(channel, ChannelStatus.SUPPRESSED, reason=why)
                       for channel, why in route.suppressed)
    done = ChannelOutcome(CHANNEL, ChannelStatus.DONE, rendered=True,
                          document_id=entry.document_id)
    return Outcome(record.key, record.position, Status.ARCHIVED, pages=entry.page_count or 0,
                   byte_size=entry.byte_size, document_ids=(entry.document_id,),
                   rendered=True, channels=(done, *suppressed))


__all__ = ["archived_by_run"]
