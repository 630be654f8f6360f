"""The ``peppol`` channel of one invoice: its UBL archived as its own document, then sent.

Takes the worker's services, the record, its route and the archived PDF's index row; gives the
`Send` that `factory.pipeline.delivery.Deliverer` carries out like an email: the UBL (Peppol
BIS Billing 3.0, the legal invoice in Slovakia) is stored and indexed under the ``peppol`` slot
of the record with the invoice's retention, "sending" is recorded, the access point is called
with the channel's idempotency key, and the receipt (the access point's message id) goes to the
``deliveries`` table. The transport is ``FACTORY_PEPPOL_URL`` (it may hold the token), else the
job's ``[peppol] transport``, with the job's timeouts.

The UBL carries the number the PDF was archived with: it is read from the PDF's record
snapshot (``computed.sequence``), so the two documents of one invoice never disagree. The UBL
was already built and validated once, before that number was used (`InvoicePlugin.finish`);
here it is built again from the same values, byte for byte the same document.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from factory.deliver import TransportOptions
from factory.errors import ConfigError, DeliveryError, RenderError
from factory.models import Artifact, ChannelOutcome, Message, Record, Route
from factory.pipeline.channels.base import RecordContext, Services
from factory.pipeline.delivery import make_send

if TYPE_CHECKING:
    from factory.jobs import JobSpec

CHANNEL = "peppol"
MEDIA_TYPE = "application/xml"


class PeppolChannel:
    name = CHANNEL
    needs: tuple[str, ...] = ("pdf",)

    def __init__(self, services: Services) -> None:
        self.services = services

    @staticmethod
    def default_transport(job: JobSpec) -> str | None:
        return job.peppol.transport if job.peppol is not None else None

    def transport_options(self) -> TransportOptions | None:
        spec = self.services.job.peppol
        if spec is None:
            raise ConfigError("no peppol transport configured ([peppol] transport)")
        return TransportOptions(channel=CHANNEL, gateway=spec.model_dump(
            include={"timeout_seconds", "poll_seconds", "poll_interval_seconds"}))

    def process(self, record: Record, route: Route, context: RecordContext) -> ChannelOutcome:
        services = self.services
        job, documents, store = services.job, services.documents, services.store
        if route.peppol is None or job.peppol is None:
            raise DeliveryError("no Peppol participant id")
        pdf_entry = context.archived_pdf()
        key = services.slot_key(record, CHANNEL).delivery_key()
        sender = job.peppol.sender_id
        plugin: Any = documents.plugin
        if plugin is None or not hasattr(plugin, "peppol_xml"):
            raise RenderError("the peppol channel needs an invoice job")
        recipient = route.peppol

        def render(_meta: Any) -> tuple[Artifact, Message]:
            computed = json.loads(store.get(pdf_entry.record_storage_key or "")
                                  ).get("computed") or {}
            number = computed.get("sequence")
            if number is None:
                raise RenderError(f"the archived invoice {pdf_entry.document_id} has no number")
            xml = plugin.peppol_xml(documents.typed(record, int(number)))
            if xml is None:
                raise DeliveryError("not a Peppol invoice")
            return (Artifact.of(CHANNEL, MEDIA_TYPE, "xml", xml),
                    Message(CHANNEL, key, recipient, sender, xml,
                            {"invoice_number": computed.get("number")}))

        return services.deliverer.deliver(make_send(services, context, CHANNEL, recipient,
                                                    render))
