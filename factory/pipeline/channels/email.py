"""The ``email`` channel: an HTML email with a text part (and the PDF attached, if the job says
so), rendered from the template set, archived, then sent once (`factory.pipeline.delivery`)."""

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

CHANNEL = "email"


class EmailChannel:
    name = CHANNEL

    def __init__(self, services: Services) -> None:
        self.services = services
        spec = services.job.email
        self.attach = spec is not None and spec.attach_pdf
        self.needs: tuple[str, ...] = ("pdf",) if self.attach else ()

    @staticmethod
    def default_transport(job: JobSpec) -> str | None:
        return job.email.transport if job.email is not None else None

    def transport_options(self) -> TransportOptions | None:
        spec = self.services.job.email
        return TransportOptions(channel=CHANNEL,
                                rate_per_second=spec.rate_per_second if spec else 0.0)

    def process(self, record: Record, route: Route, context: RecordContext) -> ChannelOutcome:
        recipient = route.email
        if recipient is None:
            raise DeliveryError(f"no {CHANNEL} recipient")
        messages = self.services.messages()
        key = self.services.slot_key(record, CHANNEL).delivery_key()
        attach = self.attach

        def render(meta: Any) -> tuple[Artifact, Message]:
            # The PDF this record just archived, or (archived by an earlier run) the store's.
            data = context.pdf_bytes() if attach else None
            meta = linked(meta, self.services, context)  # {{ document.link }}
            result: tuple[Artifact, Message] = messages.email(record, meta, recipient, key,
                                                              data)
            return result

        return self.services.deliverer.deliver(
            make_send(self.services, context, CHANNEL, recipient, render))
