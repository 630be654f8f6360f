"""The ``webhook`` channel: a signed JSON notification to the customer's own URL.

The notification names the archived PDF and links to it, nothing of the record beyond its
identity (document id, job, period, document type, record key, customer id, link); the bytes
POSTed are archived as the channel's document and sent once through the delivery protocol
(`factory.pipeline.delivery`: same slot, idempotency key, ``deliveries`` rows and resend rules
as email and SMS). The transport (`factory.deliver.webhook`) signs each request. This module
and one line in the registry (`factory.pipeline.channels.base`) are the whole channel.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from factory.deliver import TransportOptions
from factory.errors import DeliveryError
from factory.models import Artifact, ChannelOutcome, Message, Record, Route
from factory.pipeline.channels.base import RecordContext, Services
from factory.pipeline.delivery import make_send

if TYPE_CHECKING:
    from factory.jobs import JobSpec

CHANNEL = "webhook"
MEDIA_TYPE = "application/json"
EVENT = "document.archived"


class WebhookChannel:
    name = CHANNEL
    needs: tuple[str, ...] = ("pdf",)

    def __init__(self, services: Services) -> None:
        self.services = services

    @staticmethod
    def default_transport(job: JobSpec) -> str | None:
        return job.webhook.transport if job.webhook is not None else None

    def transport_options(self) -> TransportOptions | None:
        spec = self.services.job.webhook
        return TransportOptions(
            channel=CHANNEL, secret=self.services.config.settings.webhook_secret,
            gateway={"timeout_seconds": spec.timeout_seconds if spec else 10.0})

    def process(self, record: Record, route: Route, context: RecordContext) -> ChannelOutcome:
        spec = self.services.job.webhook
        recipient = route.webhook
        if recipient is None or spec is None:
            raise DeliveryError(f"no {CHANNEL} URL")
        pdf = context.archived_pdf()
        key = self.services.slot_key(record, CHANNEL).delivery_key()
        body = json.dumps({
            "id": key, "event": EVENT, "document_id": pdf.document_id, "job": pdf.job,
            "period": pdf.period, "document_type": pdf.document_type,
            "record_key": record.key, "customer_id": record.customer_id,
            "link": f"{spec.link_base.rstrip('/')}/api/documents/{pdf.document_id}/content",
        }, sort_keys=True, separators=(",", ":")).encode("utf-8")

        def render(_meta: Any) -> tuple[Artifact, Message]:
            return (Artifact.of(CHANNEL, MEDIA_TYPE, "json", body),
                    Message(CHANNEL, key, recipient, "docfactory", body,
                            {"document_id": pdf.document_id}))

        return self.services.deliverer.deliver(make_send(self.services, context, CHANNEL,
                                                         recipient, render))
