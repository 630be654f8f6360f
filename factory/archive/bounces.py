"""Messages refused after all: a permanent refusal at send time, a DSN that came back, an SMS
gateway's "undeliverable" report; and the fallback each record made once.

Takes the index and a delivery key (or what a report names: a recipient, a message id); gives
updates of the ``deliveries`` row: ``bounced`` (refused, the record's fallback not made yet)
and then ``fell_back`` (the next usable channel of its route took the message), each with the
cause in ``reason``. A row moves to ``bounced`` only from ``sent`` or ``failed``, and to
``fell_back`` only from ``bounced``, so a report received twice changes nothing the second time.
No new table: the states are values of ``deliveries.status`` (a String(16)).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update

from factory.archive.index import SqlIndex
from factory.archive.tables import deliveries

BOUNCED = "bounced"
FELL_BACK = "fell_back"
#: The states of a message whose record must go (or went) through its fallback channel.
REFUSED = (BOUNCED, FELL_BACK)


def mark_bounced(index: SqlIndex, key: str, reason: str) -> bool:
    """Record that the message ``key`` was refused; False if it was not sent/failed (unknown
    key, already bounced or fallen back: a report received again)."""
    with index.begin() as connection:
        done = connection.execute(
            update(deliveries).where(deliveries.c.delivery_key == key,
                                     deliveries.c.status.in_(("sent", "failed")))
            .values(status=BOUNCED, reason=reason[:2000], updated_at=datetime.now(UTC)))
    return bool(done.rowcount)


def mark_fell_back(index: SqlIndex, key: str, reason: str) -> bool:
    with index.begin() as connection:
        done = connection.execute(
            update(deliveries).where(deliveries.c.delivery_key == key,
                                     deliveries.c.status == BOUNCED)
            .values(status=FELL_BACK, reason=reason[:2000], updated_at=datetime.now(UTC)))
    return bool(done.rowcount)


def note_cause(index: SqlIndex, key: str, reason: str) -> None:
    """Write why a fallback delivery exists on its row (when it has no reason yet)."""
    with index.begin() as connection:
        connection.execute(update(deliveries).where(deliveries.c.delivery_key == key,
                                                    deliveries.c.reason.is_(None))
                           .values(reason=reason[:2000]))


def bounced(index: SqlIndex, job: str, period: str) -> list[dict[str, Any]]:
    """Rows of ``job`` and ``period`` refused and waiting for their record's fallback."""
    with index.connect() as connection:
        return [dict(r._mapping) for r in connection.execute(
            select(deliveries).where(deliveries.c.job == job, deliveries.c.period == period,
                                     deliveries.c.status == BOUNCED)
            .order_by(deliveries.c.record_key))]


def sent_to(index: SqlIndex, job: str, period: str, channel: str, recipient: str
            ) -> list[dict[str, Any]]:
    """Rows of messages sent to ``recipient`` (case-insensitive) on ``channel``."""
    with index.connect() as connection:
        rows = connection.execute(select(deliveries).where(
            deliveries.c.job == job, deliveries.c.period == period,
            deliveries.c.channel == channel, deliveries.c.status == "sent"))
        return [dict(r._mapping) for r in rows
                if str(r.recipient or "").lower() == recipient.lower()]
