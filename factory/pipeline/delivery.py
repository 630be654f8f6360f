"""One email or SMS of one record: render, archive, record "sending", send, record "sent".

Takes the worker's store, index, transports and renderer; gives a `ChannelOutcome`. The order
is fixed: archive first, then deliver, then record the delivery status::

    sent before? (a document row in the slot)  ─► skipped; --force never resends
    claim the slot
    "sending" or "unknown" left by a crash?    ─► the in-doubt policy below
    render ─► store the record snapshot and the .eml / .json
    index.begin_delivery: "sending", attempts + 1          (recorded BEFORE the send)
    transport.send ─► refused: "failed" with the reason, the claim released
    index.complete: document row in, "sent" + message id, claim out   (one transaction)

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

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from factory.archive import (
    Slot,
    delivery_key,
    document_id,
    document_key,
    record_snapshot_key,
)
from factory.archive.index import Claim, SqlIndex
from factory.archive.store import Store, sha256_of
from factory.deliver import Transport
from factory.errors import DeliveryError, FactoryError, PermanentDeliveryError
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

#: The media type of an archived message, by its extension (a send recovered after a crash).
_MEDIA_TYPES = {"eml": "message/rfc822", "json": "application/json", "xml": "application/xml"}

IN_DOUBT = (DeliveryStatus.SENDING.value, DeliveryStatus.UNKNOWN.value)


@dataclass
class Send:
    """What the worker hands over for one send."""

    record: Record
    channel: str
    recipient: str
    render: Callable[[DocumentMeta], tuple[Artifact, Message]]
    snapshot: Callable[[str, datetime], Artifact]
    entry: Callable[[str, Artifact, str, str, datetime], ArchiveEntry]
    meta: Callable[[str], DocumentMeta]
    #: The unit of work (a Celery task id) holding the claim; see `SqlIndex.claim`.
    holder: str | None = None


class Deliverer:
    """The send protocol of one worker process."""

    def __init__(self, *, job: str, period: str, document_type: str, run_id: str,
                 store: Store, index: SqlIndex, transport: Callable[[str], Transport],
                 resend_unknown: bool = False) -> None:
        self.job = job
        self.period = period
        self.document_type = document_type
        self.run_id = run_id
        self.store = store
        self.index = index
        self.transport = transport
        self.resend_unknown = resend_unknown
        self._receipts: dict[str, Receipt] = {}

    def deliver(self, send: Send) -> ChannelOutcome:
        record, channel = send.record, send.channel
        slot = Slot(self.job, self.period, record.key, channel, self.document_type)
        if self.index.find(slot) is not None:
            return ChannelOutcome(channel, ChannelStatus.SKIPPED)
        key = delivery_key(self.job, self.period, record.key, self.document_type, channel)
        claim = self.index.claim(slot, self.run_id, holder=send.holder)
        try:
            if claim.existing is not None:
                self.index.release(claim)
                return ChannelOutcome(channel, ChannelStatus.SKIPPED)
            earlier = self.index.delivery(key)
            if earlier is not None and earlier["status"] in IN_DOUBT:
                settled = self._in_doubt(send, claim, key, earlier)
                if settled is not None:
                    return settled
            return self._send(send, claim, key)
        except BaseException:
            with contextlib.suppress(FactoryError):
                self.index.release(claim)
            raise

    def _send(self, send: Send, claim: Claim, key: str) -> ChannelOutcome:
        record, channel = send.record, send.channel
        doc_id = document_id(self.job, self.period, record.key, self.document_type, channel, 1)
        artifact, message = send.render(send.meta(doc_id))
        created = datetime.now(UTC)
        storage_key = document_key(self.job, self.period, record.key, doc_id,
                                   artifact.extension, claim.attempt)
        snapshot_key = record_snapshot_key(storage_key)
        snapshot = send.snapshot(doc_id, created)
        entry = replace(send.entry(doc_id, artifact, storage_key, snapshot_key, created),
                        record_sha256=snapshot.sha256)
        self.store.put(snapshot_key, snapshot.data, media_type=snapshot.media_type,
                       sha256=snapshot.sha256, retain_until=entry.retention_until)
        self.store.put(storage_key, artifact.data, media_type=artifact.media_type,
                       sha256=artifact.sha256, retain_until=entry.retention_until)
        transport = self.transport(channel)
        self.index.begin_delivery(claim, key, document_id=doc_id, storage_key=storage_key,
                                  recipient=send.recipient, transport=transport.url)
        try:
            receipt = transport.send(message)
        except DeliveryError as exc:
            self.index.finish_delivery(key, DeliveryStatus.FAILED, reason=str(exc))
            raise
        self._receipts[key] = receipt
        self.index.complete(claim, entry, {"key": key, "message_id": receipt.message_id,
                                           "sent_at": receipt.accepted_at})
        self._receipts.pop(key, None)
        return ChannelOutcome(channel, ChannelStatus.DONE, rendered=True,
                              document_id=doc_id, message_id=receipt.message_id)

    def _in_doubt(self, send: Send, claim: Claim, key: str, earlier: dict[str, Any]
                  ) -> ChannelOutcome | None:
        """Settle a send an earlier attempt left "sending"; None means: send it (again)."""
        if key in self._receipts:
            return self._record_proof(send, claim, key, earlier, self._receipts[key])
        channel = send.channel
        transport = self.transport(channel)
        proof = transport.find(key)
        if proof is not None and earlier.get("storage_key"):
            return self._record_proof(send, claim, key, earlier, proof)
        if transport.resend_is_safe or self.resend_unknown:
            return None
        self.index.finish_delivery(
            key, DeliveryStatus.UNKNOWN,
            reason=f"a crash left it 'sending' (attempt {earlier['attempts']}, run"
                   f" {earlier['run_id']}); {transport.url} cannot tell whether it was sent")
        self.index.release(claim)
        raise PermanentDeliveryError(
            f"delivery unknown: attempt {earlier['attempts']} (run {earlier['run_id']}) was"
            f" interrupted after recording 'sending' at"
            f" {earlier['updated_at']:%Y-%m-%d %H:%M:%S} UTC; held, not resent."
            " Look for the message in the mail server's log"
            f" (idempotency key {key}); run with --resend-unknown to send it again")

    def _record_proof(self, send: Send, claim: Claim, key: str, earlier: dict[str, Any],
                      proof: Receipt) -> ChannelOutcome:
        storage_key = str(earlier["storage_key"])
        data = self.store.get(storage_key)
        doc_id = str(earlier["document_id"])
        media_type = _MEDIA_TYPES.get(storage_key.rsplit(".", 1)[-1], "application/octet-stream")
        artifact = Artifact.of(send.channel, media_type, storage_key.rsplit(".", 1)[1], data)
        created = datetime.now(UTC)
        snapshot_key = record_snapshot_key(storage_key)
        entry = replace(send.entry(doc_id, artifact, storage_key, snapshot_key, created),
                        record_sha256=sha256_of(self.store.get(snapshot_key)))
        self.index.complete(claim, entry, {"key": key, "message_id": proof.message_id,
                                           "sent_at": proof.accepted_at})
        self._receipts.pop(key, None)
        return ChannelOutcome(send.channel, ChannelStatus.DONE, document_id=doc_id,
                              message_id=proof.message_id)
