"""The ``pdf`` channel: the record's document rendered, archived and indexed, once.

    skip if archived (by this run: done) ─► claim (`factory.archive.slots`) ─► render HTML ─►
    render PDF ─► store record snapshot and PDF under names unique to the attempt ─► complete
    (claim checked, index row in, claim out; on --force the new revision supersedes the old,
    which stays stored and indexed)

In a task of many records (`factory.pipeline.chunk`) the find and the claim come from the
task's `SlotBatch` (one transaction for all its records), and when the PDF is the record's
last channel its completion joins the task's one completion transaction.

A numbered document type (invoices: the job's plugin gives a series) renders inside
`ClaimRepository.complete_numbered`, which assigns the series' next number in the same transaction
that archives the PDF, so a failed or retried record never uses up a number.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from factory.archive.audit import Actor
from factory.archive.index import Supersession
from factory.errors import ConfigError, LegalHoldError
from factory.models import ArchiveEntry, Artifact, ChannelOutcome, ChannelStatus, Record, Route
from factory.observe.metrics import timed
from factory.pipeline.channels.base import RecordContext, Services

if TYPE_CHECKING:
    from factory.archive.slots import OpenSlot
    from factory.deliver import TransportOptions
    from factory.jobs import JobSpec

CHANNEL = "pdf"


class PdfChannel:
    name = CHANNEL
    needs: tuple[str, ...] = ()

    def __init__(self, services: Services) -> None:
        self.services = services

    @staticmethod
    def default_transport(job: JobSpec) -> str | None:
        return None

    def transport_options(self) -> TransportOptions | None:
        return None

    def process(self, record: Record, route: Route, context: RecordContext) -> ChannelOutcome:
        services, config = self.services, self.services.config
        key = services.slot_key(record, CHANNEL)
        slots = context.slots()
        found = slots.find(key)
        if found is not None and found.run_id == config.run_id:
            return _archived_before(context, found)  # a redelivered task: done by this run
        if not config.force and found is not None:
            context.pdf_entry = found
            return ChannelOutcome(CHANNEL, ChannelStatus.SKIPPED, document_id=found.document_id)
        with slots.slot(key, config.run_id, context.holder) as slot:
            existing = slot.existing
            if existing is not None and existing.run_id == config.run_id:
                return _archived_before(context, existing)
            if existing is not None and not config.force:
                context.pdf_entry = existing
                return ChannelOutcome(CHANNEL, ChannelStatus.SKIPPED,
                                      document_id=existing.document_id)
            if existing is not None and slot.existing_held:
                raise LegalHoldError(f"document {existing.document_id} is on legal hold: it"
                                     " cannot be replaced until it is released")
            series = services.documents.series(record)
            if existing is not None and series is not None:
                raise ConfigError(f"document {existing.document_id} carries an issued number"
                                  f" of series {series}: it is never rendered again; issue a"
                                  " credit note instead")
            if series is None:
                entry, artifact = self._render_and_store(record, slot)
                who = Supersession(Actor(config.actor, config.actor_role), config.force_reason)
                if route.channels[-1] == CHANNEL:  # nothing of the record needs the row now
                    slot.complete_later(entry, supersede=who)  # with the task's others
                else:
                    slot.complete(entry, supersede=who)
            else:
                before = getattr(services.documents.plugin, "before_number", None)
                if before is not None:  # index reads the numbering transaction would block
                    before(record)
                entry, artifact = slot.complete_numbered(
                    series, lambda number: self._render_and_store(record, slot, number))
        context.pdf_entry, context.pdf_data = entry, artifact.data
        context.pages, context.byte_size = artifact.page_count or 0, artifact.byte_size
        return ChannelOutcome(CHANNEL, ChannelStatus.DONE, rendered=True,
                              document_id=entry.document_id)

    def _render_and_store(self, record: Record, slot: OpenSlot, number: int | None = None
                          ) -> tuple[ArchiveEntry, Artifact]:
        services = self.services
        doc_id = slot.document_id()
        job = services.job
        with timed("render", job.name, job.document_type):
            _html, artifact, typed = services.documents.render_typed(record, doc_id, number)
        key, snapshot_key = slot.keys(doc_id, artifact.extension)
        created = datetime.now(UTC)
        snapshot = services.snapshot(record, doc_id, created,
                                     services.documents.snapshot(typed))
        entry = services.entry(record, CHANNEL, doc_id, artifact, key, snapshot_key, created,
                               slot.revision, snapshot.sha256)
        with timed("archive", job.name, job.document_type):
            slot.store(entry, artifact, snapshot)
        return entry, artifact


def _archived_before(context: RecordContext, entry: ArchiveEntry) -> ChannelOutcome:
    """This run archived the PDF already (an at-least-once redelivery of a task): count it once,
    as done, without rendering it again."""
    context.pdf_entry = entry
    context.pages, context.byte_size = entry.page_count or 0, entry.byte_size
    return ChannelOutcome(CHANNEL, ChannelStatus.DONE, document_id=entry.document_id)
