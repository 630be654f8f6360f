"""One email or SMS of one record: render, archive, record "sending", send, record "sent".

Takes the worker's store, index, transports and renderer; gives a `ChannelOutcome`. The order
is fixed: archive first, then deliver, then record the delivery status::

    sent before? (a document row in the slot)  ─► skipped; --force never resends
    claim the slot (`factory.archive.slots`: released, and the attempt's unrecorded
    objects removed, on any failure)
    "sending" or "unknown" left by a crash?    ─► the in-doubt policy below
    render ─► store the record snapshot and the .eml / .json
    index.deliveries.begin: "sending", attempts + 1        (recorded BEFORE the send)
    transport.send ─► refused: "failed" with the reason, the claim released
    slot.complete: document row in, "sent" + message id, claim out    (one transaction)

The in-doubt policy, when an earlier attempt recorded "sending" but never "sent" (the process
died between the send and the record):

1. the transport proves it was delivered (the outbox finds its file): recorded "sent" from the
   archived message, nothing is sent again;
2. the transport makes a resend harmless (the HTTP gateway and the outbox deduplicate by the
   idempotency key): sent again, with the same key;
3. otherwise (SMTP cannot be asked, and a second email would reach the customer): it is held as
   "unknown" and the channel fails permanently with the Message-ID to look for in the mail
   server's log; ``run --resend-unknown`` sends it again (same Message-ID and idempotency
   header, so a receiver that deduplicates drops it).

Within one process a receipt obtained before the index could record it is kept, so a retried
record never resends a message this process already handed over.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from factory.archive.index import SqlIndex
from factory.archive.keys import SlotKey, record_snapshot_key
from factory.archive.rows import DeliveryRow
from factory.archive.slots import OpenSlot, Slots
from factory.archive.store import Store, sha256_of
from factory.deliver import Transport
from factory.errors import DeliveryError, PermanentDeliveryError
from factory.models import (
    ArchiveEntry,
    Artifact,
    ChannelOutcome,
    ChannelStatus,
    DeliveryStatus,
    Message,
    Receipt,
    Record,
)
from factory.templates import DocumentMeta

if TYPE_CHECKING:
    from factory.pipeline.channels.base import RecordContext, Services

#: The media type of an archived message, by its extension (a send recovered after a crash).
_MEDIA_TYPES = {"eml": "message/rfc822", "json": "application/json", "xml": "application/xml"}

IN_DOUBT = (DeliveryStatus.SENDING.value, DeliveryStatus.UNKNOWN.value)


@dataclass
class Send:
    """What a channel hands over for one send."""

    record: Record
    channel: str
    recipient: str
    render: Callable[[DocumentMeta], tuple[Artifact, Message]]
    snapshot: Callable[[str, datetime], Artifact]
    entry: Callable[[str, Artifact, str, str, datetime], ArchiveEntry]
    meta: Callable[[str], DocumentMeta]
    #: The unit of work (a Celery task id) holding the claim; see `ClaimRepository.claim`.
    holder: str | None = None


def make_send(services: Services, context: RecordContext, channel: str, recipient: str,
              render: Callable[[DocumentMeta], tuple[Artifact, Message]]) -> Send:
    """The `Send` of ``channel`` for ``context``'s record: ``render`` gives the archived
    artifact and the message; the record snapshot and the index row are the worker's."""
    record = context.record
    return Send(
        record=record, channel=channel, recipient=recipient, render=render,
        snapshot=lambda doc_id, created: services.snapshot(record, doc_id, created),
        entry=lambda doc_id, artifact, key, snapshot_key, created: services.entry(
            record, channel, doc_id, artifact, key, snapshot_key, created, 1),
        meta=services.documents.meta, holder=context.holder)


class Deliverer:
    """The send protocol of one worker process."""

    def __init__(self, *, job: str, period: str, document_type: str, run_id: str,
                 store: Store, index: SqlIndex, transport: Callable[[str], Transport],
                 resend_unknown: bool = False, slots: Slots | None = None) -> None:
        self.job = job
        self.period = period
        self.document_type = document_type
        self.run_id = run_id
        self.store = store
        self.index = index
        self.slots = slots or Slots(index, store)
        self.transport = transport
        self.resend_unknown = resend_unknown
        self._receipts: dict[str, Receipt] = {}

    def deliver(self, send: Send) -> ChannelOutcome:
        channel = send.channel
        slot_key = SlotKey(job=self.job, period=self.period, record_key=send.record.key,
                           document_type=self.document_type, channel=channel)
        if self.slots.find(slot_key) is not None:
            return ChannelOutcome(channel, ChannelStatus.SKIPPED)
        key = slot_key.delivery_key()
        with self.slots.slot(slot_key, self.run_id, send.holder) as slot:
            if slot.existing is not None:
                return ChannelOutcome(channel, ChannelStatus.SKIPPED)
            earlier = self.index.deliveries.get(key)
            if earlier is not None and earlier.status in IN_DOUBT:
                settled = self._in_doubt(send, slot, key, earlier)
                if settled is not None:
                    return settled
            return self._send(send, slot, key)

    def _send(self, send: Send, slot: OpenSlot, key: str) -> ChannelOutcome:
        channel = send.channel
        doc_id = slot.document_id(1)  # a message is sent once: never a second revision
        artifact, message = send.render(send.meta(doc_id))
        created = datetime.now(UTC)
        storage_key, snapshot_key = slot.keys(doc_id, artifact.extension)
        snapshot = send.snapshot(doc_id, created)
        entry = replace(send.entry(doc_id, artifact, storage_key, snapshot_key, created),
                        record_sha256=snapshot.sha256)
        slot.store(entry, artifact, snapshot)
        transport = self.transport(channel)
        self.index.deliveries.begin(slot.claim, key, document_id=doc_id,
                                    storage_key=storage_key, recipient=send.recipient,
                                    transport=transport.url)
        try:
            receipt = transport.send(message)
        except DeliveryError as exc:
            self.index.deliveries.finish(key, DeliveryStatus.FAILED, reason=str(exc))
            raise
        self._receipts[key] = receipt
        slot.complete(entry, {"key": key, "message_id": receipt.message_id,
                              "sent_at": receipt.accepted_at})
        self._receipts.pop(key, None)
        return ChannelOutcome(channel, ChannelStatus.DONE, rendered=True,
                              document_id=doc_id, message_id=receipt.message_id)

    def _in_doubt(self, send: Send, slot: OpenSlot, key: str, earlier: DeliveryRow
                  ) -> ChannelOutcome | None:
        """Settle a send an earlier attempt left "sending"; None means: send it (again)."""
        if key in self._receipts:
            return self._record_proof(send, slot, key, earlier, self._receipts[key])
        transport = self.transport(send.channel)
        proof = transport.find(key)
        if proof is not None and earlier.storage_key:
            return self._record_proof(send, slot, key, earlier, proof)
        if transport.resend_is_safe or self.resend_unknown:
            return None
        self.index.deliveries.finish(
            key, DeliveryStatus.UNKNOWN,
            reason=f"a crash left it 'sending' (attempt {earlier.attempts}, run"
                   f" {earlier.run_id}); {transport.url} cannot tell whether it was sent")
        slot.release()
        raise PermanentDeliveryError(
            f"delivery unknown: attempt {earlier.attempts} (run {earlier.run_id}) was"
            f" interrupted after recording 'sending' at"
            f" {earlier.updated_at:%Y-%m-%d %H:%M:%S} UTC; held, not resent."
            " Look for the message in the mail server's log"
            f" (idempotency key {key}); run with --resend-unknown to send it again")

    def _record_proof(self, send: Send, slot: OpenSlot, key: str, earlier: DeliveryRow,
                      proof: Receipt) -> ChannelOutcome:
        storage_key = str(earlier.storage_key)
        data = self.store.get(storage_key)
        doc_id = str(earlier.document_id)
        media_type = _MEDIA_TYPES.get(storage_key.rsplit(".", 1)[-1], "application/octet-stream")
        artifact = Artifact.of(send.channel, media_type, storage_key.rsplit(".", 1)[1], data)
        created = datetime.now(UTC)
        snapshot_key = record_snapshot_key(storage_key)
        entry = replace(send.entry(doc_id, artifact, storage_key, snapshot_key, created),
                        record_sha256=sha256_of(self.store.get(snapshot_key)))
        slot.complete(entry, {"key": key, "message_id": proof.message_id,
                              "sent_at": proof.accepted_at})
        self._receipts.pop(key, None)
        return ChannelOutcome(send.channel, ChannelStatus.DONE, document_id=doc_id,
                              message_id=proof.message_id)
