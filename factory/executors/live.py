"""Live progress of a cluster run in Redis, readable from any machine.

Takes a Redis URL, a cluster name and a run id; gives `LiveCounts`, which the coordinator
updates as chunks' outcomes come back, at most twice a second and at every state change (one
small hash per run, expiring a week after its last update), and `read_live`, which
``docfactory status`` uses. The coordinator counts each
task's result once (it waits on task ids), so redelivered tasks are never counted twice.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from factory.errors import ArchiveError
from factory.models import Outcome, Status

TTL_SECONDS = 7 * 24 * 3600
#: While a run goes on, the counts are written at most this often (and at every state change).
LIVE_SECONDS = 0.5
FIELDS = ("sent", "done", "archived", "skipped", "failed", "pages", "in_flight", "workers",
          "updated_at", "state")


def run_key(name: str, run_id: str) -> str:
    return f"{name}:run:{run_id}"


def _client(url: str) -> Any:
    import redis

    return redis.Redis.from_url(url, socket_timeout=10, socket_connect_timeout=10)


class LiveCounts:
    """The coordinator's side: counts of outcomes returned, written after every chunk."""

    def __init__(self, url: str, name: str, run_id: str, workers: int) -> None:
        self.key = run_key(name, run_id)
        self.redis = _client(url)
        self.values: dict[str, Any] = dict.fromkeys(FIELDS[:-2], 0)
        self.values["workers"] = workers
        self.values["state"] = "running"
        self._written = 0.0

    def sent(self, records: int) -> None:
        self.values["sent"] += records
        self.values["in_flight"] += records

    def returned(self, outcomes: list[Outcome]) -> None:
        for outcome in outcomes:
            self.values["done"] += 1
            self.values["in_flight"] -= 1
            if outcome.status is Status.ARCHIVED:
                self.values["archived"] += 1
                self.values["pages"] += outcome.pages
            elif outcome.status is Status.SKIPPED:
                self.values["skipped"] += 1
            else:
                self.values["failed"] += 1

    def write(self, state: str | None = None, every: float = 0.0) -> None:
        """Store the counts; with ``every``, only if the last write is that many seconds old
        (progress is not written per chunk when chunks come back hundreds a second)."""
        if state:
            self.values["state"] = state
        elif every and time.monotonic() - self._written < every:
            return
        self._written = time.monotonic()
        self.values["updated_at"] = round(time.time(), 3)
        try:
            with self.redis.pipeline() as pipe:
                pipe.hset(self.key, mapping={k: str(v) for k, v in self.values.items()})
                pipe.expire(self.key, TTL_SECONDS)
                pipe.execute()
        except Exception as exc:  # progress is best effort: never stop a run for it
            self.error = str(exc)

    def close(self) -> None:
        self.redis.close()


def read_live(url: str, name: str, run_id: str) -> Mapping[str, Any] | None:
    """The live counts of ``run_id``, or None if Redis has none (run over a week ago)."""
    client = _client(url)
    try:
        raw = client.hgetall(run_key(name, run_id))
    except Exception as exc:
        raise ArchiveError(f"cannot read live progress from Redis: {type(exc).__name__}")\
            from None
    finally:
        client.close()
    if not raw:
        return None
    values: dict[str, Any] = {k.decode(): v.decode() for k, v in raw.items()}
    for name_ in FIELDS[:-2]:
        values[name_] = int(values.get(name_, 0))
    values["updated_at"] = float(values.get("updated_at", 0))
    return values


__all__ = ["LiveCounts", "read_live", "run_key"]
