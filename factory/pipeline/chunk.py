"""A task's records through one warm worker, their document slots claimed and completed together.

Takes a `Worker` and a task's records (`Worker.chunk`); gives each record's `Outcome`. Before
the first record, one transaction claims the PDF slots of all of them (`Slots.batch`; those
archived already are found by the same read, unclaimed). Each record then runs as
`Worker.process` runs it, except that a PDF that is the record's last channel waits to be
completed with the task's others: `settle` completes them all in one transaction, each claim
checked as ever (a stale attempt completes nothing), and then one by one, with the worker's
retries, whatever that transaction left: a slot a newer run took over is handed over, any other
failure fails that record alone and removes what its attempt stored. Records the batch could not
claim (a claim held by a live worker, a dead attempt or another run) go the per-record way, whose
rules decide them. The outcome `process` gives a record whose PDF waits is provisional; the one
`settle` gives is final, and only then logged.

A task of K records costs two index transactions instead of about 3K (find, claim, complete).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from factory.errors import FactoryError
from factory.models import ChannelOutcome, ChannelStatus, Outcome, Record
from factory.observe.logs import log_record
from factory.pipeline.channels.base import RecordContext
from factory.pipeline.config import CHANNEL
from factory.pipeline.garbage import after_document

if TYPE_CHECKING:
    from factory.archive.slots import Deferred, SlotBatch
    from factory.pipeline.worker import Worker

#: Why a record whose completion was cut off (a time limit inside `Chunk.settle`) failed.
CUT_OFF = "the task was cut off before this record's document was indexed"


@dataclass
class Processed:
    """One record's run: its outcome and what it was made of."""

    outcome: Outcome
    results: list[ChannelOutcome]
    suppressed: tuple[ChannelOutcome, ...]
    context: RecordContext


class Chunk:
    """One task's records through ``worker`` (see the module docstring)."""

    def __init__(self, worker: Worker, records: list[Record], holder: str | None) -> None:
        self.worker, self.holder = worker, holder
        self._waiting: dict[str, Processed] = {}  # record key: its PDF's completion deferred
        self._final: dict[str, Outcome] = {}
        self._settling = False
        self.batch: SlotBatch | None = None
        if records and CHANNEL in worker.job.channels:
            config = worker.config
            self.batch = worker.slots.batch([worker.slot_key(r, CHANNEL) for r in records],
                                            config.run_id, holder,
                                            skip_archived=not config.force)

    def process(self, record: Record) -> Outcome:
        """``record``'s outcome: final, or provisional while its PDF waits for `settle`."""
        processed = self.worker.run_record(record, self.holder, self.batch)
        after_document(processed.outcome.rendered)
        if self.batch is not None and self.batch.deferred(
                self.worker.slot_key(record, CHANNEL)):
            self._waiting[record.key] = processed
        else:
            log_record(self.worker, processed.outcome)
        return processed.outcome

    def settle(self, outcomes: list[Outcome]) -> list[Outcome]:
        """Complete the deferred PDFs and release the claims no record used (once), and
        give ``outcomes`` (those `process` gave) final."""
        if not self._settling:
            self._settling = True
            self._complete()
        return [self._settled(outcome) for outcome in outcomes]

    def close(self) -> None:
        """After an error that stops the task: index the documents of the records done so
        far and release the other claims, as `settle` does (their records count as archived
        on the rerun, as they would have per record); errors here leave the first one."""
        if not self._settling:
            with contextlib.suppress(FactoryError):
                self.settle([])

    def _complete(self) -> None:
        if self.batch is None:
            return
        left = self.batch.flush()
        left_keys = {deferred.key.record_key for deferred in left}
        for key, processed in self._waiting.items():
            if key not in left_keys:
                self._final[key] = processed.outcome
                log_record(self.worker, processed.outcome)
        for deferred in left:
            self._complete_one(deferred)

    def _complete_one(self, deferred: Deferred) -> None:
        """Complete ``deferred`` alone, retrying; a final failure becomes its record's."""
        processed = self._waiting.get(deferred.key.record_key)
        done = ChannelOutcome(CHANNEL, ChannelStatus.DONE, rendered=True,
                              document_id=deferred.entry.document_id)
        if processed is not None:
            done = next((r for r in processed.results if r.channel == CHANNEL), done)

        def complete() -> ChannelOutcome:
            deferred.complete()
            return done

        result = self.worker.retry.run(CHANNEL, complete)
        if result.status is not ChannelStatus.DONE:
            deferred.abandon()
        if processed is None:  # its record's processing raised after deferring: counted so
            return
        results = [result if r.channel == CHANNEL else r for r in processed.results]
        final = self.worker.outcome(processed.context.record, results, processed.suppressed,
                                    processed.context)
        self._final[deferred.key.record_key] = final
        log_record(self.worker, final)

    def _settled(self, outcome: Outcome) -> Outcome:
        waiting = self._waiting.get(outcome.key)
        if waiting is None:
            return outcome
        final = self._final.get(outcome.key)
        if final is None:  # cut off inside `settle`: the index says whether it is archived
            final = self._final[outcome.key] = self.worker.settle_interrupted(
                waiting.context.record, None, CUT_OFF)
        return final


__all__ = ["CUT_OFF", "Chunk", "Processed"]
