"""The ``print`` channel: the record's archived PDF handed to the print stream once.

Records a "queued" delivery row (`DeliveryRepository.queue_print`); the print step of the run
(`factory.runner.print_step`) builds the print files from the queued documents.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from factory.archive.slots import index_slot
from factory.models import ChannelOutcome, ChannelStatus, Record, Route
from factory.pipeline.channels.base import RecordContext, Services

if TYPE_CHECKING:
    from factory.archive.protocols import HasDeliveries
    from factory.deliver import TransportOptions
    from factory.jobs import JobSpec

CHANNEL = "print"


class PrintChannel:
    name = CHANNEL
    needs: tuple[str, ...] = ("pdf",)

    def __init__(self, services: Services) -> None:
        self.services = services

    @staticmethod
    def default_transport(job: JobSpec) -> str | None:
        return None

    def transport_options(self) -> TransportOptions | None:
        return None

    @staticmethod
    def done_keys(index: HasDeliveries, job: JobSpec, period: str, keys: list[str]) -> set[str]:
        """Records whose PDF was handed to the print stream already (or printed, or sent)."""
        return index.deliveries.existing(job.name, period, CHANNEL, job.document_type, keys,
                                         ("queued", "printed", "sent"))

    def process(self, record: Record, route: Route, context: RecordContext) -> ChannelOutcome:
        entry = context.archived_pdf()
        key = self.services.slot_key(record, CHANNEL)
        queued = self.services.index.deliveries.queue_print(
            index_slot(key), key.delivery_key(), run_id=self.services.config.run_id,
            document_id=entry.document_id, storage_key=entry.storage_key,
            recipient=record.customer_id)
        return ChannelOutcome(CHANNEL, ChannelStatus.DONE if queued else ChannelStatus.SKIPPED,
                              document_id=entry.document_id)
