"""The index's record of sends: what was sent to whom, when, and what is still uncertain.

Takes idempotency keys, claims and statuses; gives `DeliveryRepository` (``index.deliveries``)
and `DeliveryRow` values. The protocol for one email or SMS of one record (the caller holds
the record's claim)::

    index.deliveries.begin(claim, key, ...)  # "sending", attempts + 1: BEFORE the transport
    receipt = transport.send(message)
    index.claims.complete(claim, entry, delivery)  # one transaction: document row in, "sent"
                                             # with the transport's message id, claim out
    index.deliveries.finish(key, "failed", reason=...)   # or, when the transport said no

A crash between the send and ``complete`` leaves "sending" behind: the next attempt must not
resend blindly (see `factory.pipeline.delivery` for the policy). Print hand-overs are rows in
"queued" for the print stream.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from factory.archive.bounces import BOUNCED, FELL_BACK
from factory.archive.db import Connections, now
from factory.archive.rows import Claim, DeliveryRow, Slot
from factory.archive.tables import claims, deliveries
from factory.errors import ArchiveError
from factory.models import DeliveryStatus


def sent_values(delivery: Mapping[str, Any]) -> dict[str, Any]:
    """The columns `complete` sets on a delivery row it marks sent."""
    moment = now()
    return {"status": DeliveryStatus.SENT.value, "message_id": delivery.get("message_id"),
            "sent_at": delivery.get("sent_at") or moment, "updated_at": moment,
            "reason": None}


def mark_sent(connection: Connection, delivery: Mapping[str, Any]) -> None:
    """Mark ``delivery["key"]`` sent inside the caller's transaction (the claim's complete)."""
    connection.execute(update(deliveries).where(
        deliveries.c.delivery_key == delivery["key"]).values(**sent_values(delivery)))


class DeliveryRepository:
    """The ``deliveries`` table."""

    def __init__(self, db: Connections) -> None:
        self.db = db

    def get(self, key: str) -> DeliveryRow | None:
        with self.db.connect() as connection:
            row = connection.execute(
                select(deliveries).where(deliveries.c.delivery_key == key)).first()
        return DeliveryRow.from_row(row._mapping) if row else None

    def where(self, **filters: Any) -> list[DeliveryRow]:
        """Rows matching column equality filters (None: any), oldest first."""
        query = select(deliveries).order_by(deliveries.c.created_at, deliveries.c.delivery_key)
        for name, value in filters.items():
            if value is not None:
                query = query.where(deliveries.c[name] == value)
        with self.db.connect() as connection:
            return [DeliveryRow.from_row(row._mapping) for row in connection.execute(query)]

    def begin(self, claim: Claim, key: str, *, document_id: str, storage_key: str,
              recipient: str, transport: str) -> int:
        """Record "sending" for ``key`` under ``claim``; return the attempt number."""
        moment = now()
        slot = claim.slot
        with self.db.begin() as connection:
            # The claim is read here, not changed: the claims repository owns its writes.
            held = connection.execute(select(claims.c.token).where(
                slot.where(claims))).scalar_one_or_none()
            if held != claim.token:
                raise ArchiveError(f"{slot.record_key}: the claim was taken over by another"
                                   " worker; this attempt does not send")
            row = connection.execute(select(deliveries.c.attempts).where(
                deliveries.c.delivery_key == key)).first()
            values = {"run_id": claim.run_id, "status": DeliveryStatus.SENDING.value,
                      "document_id": document_id, "storage_key": storage_key,
                      "recipient": recipient, "transport": transport, "reason": None,
                      "updated_at": moment}
            if row is None:
                connection.execute(insert(deliveries).values(
                    delivery_key=key, **slot.values(), attempts=1, created_at=moment,
                    **values))
                return 1
            connection.execute(update(deliveries).where(deliveries.c.delivery_key == key)
                               .values(attempts=row.attempts + 1, **values))
            return int(row.attempts) + 1

    def finish(self, key: str, status: DeliveryStatus, *, reason: str | None = None,
               message_id: str | None = None) -> None:
        values: dict[str, Any] = {"status": status.value, "reason": reason,
                                  "updated_at": now()}
        if message_id is not None:
            values["message_id"] = message_id
        with self.db.begin() as connection:
            connection.execute(update(deliveries).where(deliveries.c.delivery_key == key)
                               .values(**values))

    def queue_print(self, slot: Slot, key: str, *, run_id: str, document_id: str,
                    storage_key: str, recipient: str) -> bool:
        """Hand the PDF over to the print stream once; True if it was queued now."""
        moment = now()
        with self.db.begin() as connection:
            if connection.execute(select(deliveries.c.delivery_key).where(
                    deliveries.c.delivery_key == key)).first() is not None:
                return False
            try:
                with connection.begin_nested():
                    connection.execute(insert(deliveries).values(
                        delivery_key=key, **slot.values(), run_id=run_id,
                        status=DeliveryStatus.QUEUED.value, document_id=document_id,
                        storage_key=storage_key, recipient=recipient, transport="print",
                        attempts=0, created_at=moment, updated_at=moment))
            except IntegrityError:
                return False
        return True

    def existing(self, job: str, period: str, channel: str, document_type: str,
                 keys: list[str], statuses: tuple[str, ...]) -> set[str]:
        """Which of ``keys`` have a delivery row in one of ``statuses``."""
        if not keys:
            return set()
        with self.db.connect() as connection:
            rows = connection.execute(select(deliveries.c.record_key).where(
                deliveries.c.job == job, deliveries.c.period == period,
                deliveries.c.channel == channel, deliveries.c.document_type == document_type,
                deliveries.c.record_key.in_(keys), deliveries.c.status.in_(statuses)))
            return {row[0] for row in rows}

    # -- refused after all (states in `factory.archive.bounces`) ---------------------------

    def mark_bounced(self, key: str, reason: str) -> bool:
        """Record that the message ``key`` was refused; False if it was not sent/failed (unknown
        key, already bounced or fallen back: a report received again)."""
        return self._move(key, ("sent", "failed"), BOUNCED, reason)

    def mark_fell_back(self, key: str, reason: str) -> bool:
        """Record that the bounced message ``key``'s record went through its fallback."""
        return self._move(key, (BOUNCED,), FELL_BACK, reason)

    def _move(self, key: str, sources: tuple[str, ...], target: str, reason: str) -> bool:
        with self.db.begin() as connection:
            done = connection.execute(
                update(deliveries).where(deliveries.c.delivery_key == key,
                                         deliveries.c.status.in_(sources))
                .values(status=target, reason=reason[:2000], updated_at=now()))
        return bool(done.rowcount)

    def note_cause(self, key: str, reason: str) -> None:
        """Write why a fallback delivery exists on its row (when it has no reason yet)."""
        with self.db.begin() as connection:
            connection.execute(update(deliveries).where(deliveries.c.delivery_key == key,
                                                        deliveries.c.reason.is_(None))
                               .values(reason=reason[:2000]))

    def bounced(self, job: str, period: str) -> list[DeliveryRow]:
        """Rows of ``job`` and ``period`` refused and waiting for their record's fallback."""
        with self.db.connect() as connection:
            return [DeliveryRow.from_row(r._mapping) for r in connection.execute(
                select(deliveries).where(deliveries.c.job == job,
                                         deliveries.c.period == period,
                                         deliveries.c.status == BOUNCED)
                .order_by(deliveries.c.record_key))]

    def sent_to(self, job: str, period: str, channel: str, recipient: str
                ) -> list[DeliveryRow]:
        """Rows of messages sent to ``recipient`` (case-insensitive) on ``channel``."""
        with self.db.connect() as connection:
            rows = connection.execute(select(deliveries).where(
                deliveries.c.job == job, deliveries.c.period == period,
                deliveries.c.channel == channel, deliveries.c.status == "sent"))
            return [DeliveryRow.from_row(r._mapping) for r in rows
                    if str(r.recipient or "").lower() == recipient.lower()]
