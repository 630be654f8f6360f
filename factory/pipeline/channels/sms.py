"""The ``sms`` channel: a text message from the set's ``sms.txt`` (segment limit checked),
archived as JSON, then sent once through the SMS transport (`factory.pipeline.delivery`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from factory.deliver import TransportOptions
from factory.errors import DeliveryError
from factory.models import Artifact, ChannelOutcome, Message, Record, Route
from factory.pipeline.channels.base import RecordContext, Services
from factory.pipeline.delivery import make_send
from factory.pipeline.links import linked

if TYPE_CHECKING:
    from factory.jobs import JobSpec

CHANNEL = "sms"


class SmsChannel:
    name = CHANNEL
    needs: tuple[str, ...] = ()

    def __init__(self, services: Services) -> None:
        self.services = services

    @staticmethod
    def default_transport(job: JobSpec) -> str | None:
        return job.sms.transport if job.sms is not None else None

    def transport_options(self) -> TransportOptions | None:
        spec = self.services.job.sms
        return TransportOptions(channel=CHANNEL,
                                gateway=spec.gateway.model_dump() if spec else {})

    def process(self, record: Record, route: Route, context: RecordContext) -> ChannelOutcome:
        recipient = route.phone
        if recipient is None:
            raise DeliveryError(f"no {CHANNEL} recipient")
        messages = self.services.messages()
        key = self.services.slot_key(record, CHANNEL).delivery_key()

        def render(meta: Any) -> tuple[Artifact, Message]:
            meta = linked(meta, self.services, context)  # {{ document.link }}
            result: tuple[Artifact, Message] = messages.sms(record, meta, recipient, key)
            return result

        return self.services.deliverer.deliver(
            make_send(self.services, context, CHANNEL, recipient, render))
