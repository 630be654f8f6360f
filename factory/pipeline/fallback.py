"""Send-time fallback: a message refused for good goes, once, to the next usable channel of
the record's route (typically print), and the refusal is recorded with its cause.

Takes the worker, the record, its `Route`, the channel about to be sent and a function that
sends one channel (the worker's retrying `_channel`); gives the outcomes to count and the
refused channel's outcome (``suppressed``, with the cause and where the message went). It
applies to email and SMS of jobs with ``[routing]``:

* the send is refused permanently (SMTP 5xx, gateway 4xx): the delivery row becomes
  ``bounced`` with the cause, the next channel routing would have tried after it (and that the
  record can use) takes the message, and the row becomes ``fell_back`` (the fallback's row
  carries the cause too);
* the row is ``bounced`` already (a DSN or a gateway report came back later, recorded by
  ``docfactory fallbacks`` or the delivery-report webhook): the message is not sent again; the
  record goes straight to its fallback channel;
* the row is ``fell_back``: the fallback was made; its channel answers "done before".

Never twice: the fallback channel is sent with no fallback of its own, a message whose fate is
unknown (a crash between send and record) is never treated as refused, and each state change
happens only from the state before it (`factory.archive.bounces`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from factory.archive import delivery_key
from factory.archive.bounces import REFUSED
from factory.models import Channel, ChannelOutcome, ChannelStatus, Record, Route
from factory.routing import channel_usable, fallback_order

SendOne = Callable[[str, Route], ChannelOutcome]
MESSAGE_CHANNELS = (Channel.EMAIL.value, Channel.SMS.value)


def with_fallback(worker: Any, record: Record, route: Route, channel: str, send: SendOne
                  ) -> tuple[list[ChannelOutcome], tuple[ChannelOutcome, ...]]:
    job = worker.job
    if channel not in MESSAGE_CHANNELS or job.routing is None:
        return [send(channel, route)], ()
    key = delivery_key(job.name, worker.period.code, record.key, job.document_type, channel)
    row = worker.index.deliveries.get(key)
    if row is not None and row.status in REFUSED:
        cause = str(row.reason or "refused").split("; fell back to ")[0]
        return _fall_back(worker, record, route, channel, key, cause, send)
    result = send(channel, route)
    if result.status is not ChannelStatus.FAILED or result.retryable or \
            not _refusal(result.reason) or next_channel(job, record, route, channel) is None:
        return [result], ()
    cause = f"refused at send: {result.reason}"
    worker.index.deliveries.mark_bounced(key, cause)
    return _fall_back(worker, record, route, channel, key, cause, send)


def next_channel(job: Any, record: Record, route: Route, refused: str
                 ) -> tuple[str, Route] | None:
    """The channel routing would have tried after ``refused`` that the record can use and is
    not already going to, with the route carrying its address; None when there is none."""
    order = fallback_order(job, record)
    after = order[order.index(refused) + 1:] if refused in order else order
    for channel in after:
        if channel in route.channels or channel == refused:
            continue
        problem, found = channel_usable(job, record, channel)
        if problem is None:
            return channel, dataclasses.replace(route, email=found.get("email", route.email),
                                                phone=found.get("phone", route.phone))
    return None


def _fall_back(worker: Any, record: Record, route: Route, channel: str, key: str, cause: str,
               send: SendOne) -> tuple[list[ChannelOutcome], tuple[ChannelOutcome, ...]]:
    found = next_channel(worker.job, record, route, channel)
    if found is None:
        return [ChannelOutcome(channel, ChannelStatus.FAILED, reason=f"{cause}; no other"
                               " channel of its route can take it")], ()
    target, target_route = found
    result = send(target, target_route)
    moved = f"{cause}; fell back to {target}"
    if result.status in (ChannelStatus.DONE, ChannelStatus.SKIPPED):
        worker.index.deliveries.mark_fell_back(key, moved)
        moved_to = delivery_key(worker.job.name, worker.period.code, record.key,
                                worker.job.document_type, target)
        worker.index.deliveries.note_cause(moved_to, f"fallback from {channel}: {cause}")
    return [result], (ChannelOutcome(channel, ChannelStatus.SUPPRESSED, reason=moved),)


def _refusal(reason: str | None) -> bool:
    """A transport's permanent refusal, not a message in doubt (never sent twice)."""
    text = reason or ""
    return text.startswith("refused:") and "delivery unknown" not in text
