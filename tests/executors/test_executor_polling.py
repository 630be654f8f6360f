"""The Celery executor's per-record overheads (issue 18): one MGET per poll, however many tasks
are in flight; tasks sized from the measured rate; live counts not written per chunk.

The poll is tested against the real Celery Redis result backend on the local Redis (results
stored by the backend itself under a unique cluster prefix), counting the commands Redis saw
through a client wrapper: a GET per task per poll (the old way) fails it.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from typing import Any

import pytest

from factory.errors import FactoryError
from factory.executors.celery import MAX_TASK_RECORDS, CeleryExecutor
from factory.executors.cluster import ClusterOptions
from factory.executors.live import LiveCounts, run_key
from factory.models import Position, Record

REDIS_URL = "redis://127.0.0.1:6379/0"


class CountingClient:
    """A redis client that counts the commands called through it."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.calls: dict[str, int] = {}

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.client, name)
        if not callable(attr):
            return attr

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] = self.calls.get(name, 0) + 1
            return attr(*args, **kwargs)

        return counted


@pytest.fixture
def executor() -> Iterator[CeleryExecutor]:
    from factory.executors.celery_app import make_app

    name = f"poll-{secrets.token_hex(4)}"
    celery = CeleryExecutor(ClusterOptions(REDIS_URL, name))
    celery.app = make_app(celery.options)
    yield celery
    keys = list(celery.app.backend.client.scan_iter(match=f"{name}:*"))
    if keys:
        celery.app.backend.client.delete(*keys)
    celery.app.close()


def _in_flight(executor: CeleryExecutor, count: int) -> list[str]:
    from celery.result import AsyncResult

    ids = [f"task-{secrets.token_hex(6)}" for _ in range(count)]
    for task_id in ids:
        executor._pending[task_id] = (AsyncResult(task_id, app=executor.app), [])
    return ids


def test_one_mget_per_poll_and_only_finished_tasks_are_ready(executor: CeleryExecutor
                                                            ) -> None:
    backend = executor.app.backend
    ids = _in_flight(executor, 50)
    backend.store_result(ids[0], [], "SUCCESS")
    backend.store_result(ids[1], ValueError("boom"), "FAILURE")
    backend.store_result(ids[2], None, "RETRY")  # a task being retried is not finished
    backend.store_result(ids[3], None, "STARTED")
    counting = CountingClient(backend.client)
    backend.__dict__["client"] = counting  # the backend's client is a cached property
    try:
        ready = executor._ready()
    finally:
        del backend.__dict__["client"]
    assert sorted(ready) == sorted(ids[:2])
    assert counting.calls == {"mget": 1}
    executor._pending.clear()


def test_a_finished_task_is_read_from_the_poll_not_fetched_again(executor: CeleryExecutor
                                                                ) -> None:
    """`AsyncResult.get` on the Redis backend subscribes to the task's channel, fetches the
    result the poll has just read and unsubscribes: per task, most of the coordinator's
    Redis work after the MGET poll. The poll's value is used instead; only the key's DEL
    (``forget``) stays."""
    from factory.executors.payload import encode_outcome
    from factory.models import Outcome, Status

    backend = executor.app.backend
    ids = _in_flight(executor, 2)
    records = _records(2)
    backend.store_result(ids[0], [encode_outcome(Outcome(records[0].key, records[0].position,
                                                         Status.ARCHIVED))], "SUCCESS")
    backend.store_result(ids[1], ValueError("boom"), "FAILURE")
    counting = CountingClient(backend.client)
    backend.__dict__["client"] = counting
    try:
        assert sorted(executor._ready()) == sorted(ids)
        result, _chunk = executor._pending.pop(ids[0])
        outcomes = executor._outcomes(result, records[:1], None)  # type: ignore[arg-type]
        failed, _chunk = executor._pending.pop(ids[1])
        with pytest.raises(FactoryError, match="ValueError: boom"):
            executor._outcomes(failed, records[1:], None)  # type: ignore[arg-type]
    finally:
        del backend.__dict__["client"]
    assert [(o.key, o.status) for o in outcomes] == [(records[0].key, Status.ARCHIVED)]
    assert counting.calls == {"mget": 1, "delete": 2}


def _records(count: int) -> list[Record]:
    return [Record(f"K{n:04}", f"C{n}", "en", Position("test", n, n + 1), {})
            for n in range(count)]


def test_task_size_follows_the_measured_rate() -> None:
    celery = CeleryExecutor(ClusterOptions(REDIS_URL, "sizes", task_seconds=3.0))
    celery.workers = 4
    assert celery.task_size(4) == 4  # nothing measured yet: the runner's chunk size
    celery._started, celery._returned = time.monotonic() - 10.0, 200  # 0.2 s per record
    assert 14 <= celery.task_size(4) <= 15  # ~3 s of one worker's time
    celery._returned = 1_000_000  # far faster than anything: bounded
    assert celery.task_size(4) == MAX_TASK_RECORDS
    fixed = CeleryExecutor(ClusterOptions(REDIS_URL, "fixed", task_seconds=0))
    fixed._started, fixed._returned = time.monotonic() - 10.0, 200
    assert fixed.task_size(4) == 4  # FACTORY_TASK_SECONDS=0: the chunk size as given


def test_joined_tasks_keep_every_record_once_in_order() -> None:
    celery = CeleryExecutor(ClusterOptions(REDIS_URL, "join", task_seconds=3.0))
    celery._started, celery._returned = time.monotonic() - 10.0, 200
    records = _records(43)
    chunks = iter([records[i:i + 4] for i in range(0, 43, 4)])
    tasks = []
    while True:
        task, exhausted = celery._next_task(chunks)
        if task:
            tasks.append(task)
        if exhausted:
            break
    assert [r.key for task in tasks for r in task] == [r.key for r in records]
    assert len(tasks) < 11  # joined, not one task per chunk of 4


def test_live_counts_are_written_at_most_every_interval() -> None:
    import redis

    name = f"live-{secrets.token_hex(4)}"
    live = LiveCounts(REDIS_URL, name, "run1", 2)
    client = redis.Redis.from_url(REDIS_URL)
    try:
        live.write()
        live.sent(3)
        live.write(every=60)  # too soon: not written
        assert client.hget(run_key(name, "run1"), "sent") == b"0"
        live.write("finished")  # a state change is always written
        assert client.hget(run_key(name, "run1"), "sent") == b"3"
        assert client.hget(run_key(name, "run1"), "state") == b"finished"
    finally:
        client.delete(run_key(name, "run1"))
        client.close()
        live.close()
