"""The Celery executor: chunks of records dispatched to Celery workers over Redis.

Takes `ClusterOptions` and then, from the runner, a `WorkerConfig` and a lazy iterator of
chunks; gives each chunk's outcomes as its task finishes. ``start`` checks that workers consume
the cluster's queue and counts their processes; at most ``2 × processes`` chunks are in flight,
so the coordinator reads no further ahead than the workers and its memory stays flat. Each task
carries the run's description and the chunk's records as JSON (no live objects; no passwords);
the workers send back outcomes, which are counted into `LiveCounts` for ``docfactory status``.
A chunk whose worker processes keep dying fails its records with that reason (those archived
before a process died count as archived, from the index); a task that
fails for good otherwise (a worker's configuration error) stops the run with the worker's
message; an interrupted run revokes the tasks still queued.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from celery import states
from celery.result import AsyncResult

from factory.archive import Slot, open_index
from factory.errors import ConfigError, FactoryError, NoSpaceError
from factory.executors.celery_app import TASK, make_app
from factory.executors.cluster import ClusterOptions
from factory.executors.live import LIVE_SECONDS, LiveCounts
from factory.executors.payload import (
    decode_outcome,
    encode_config,
    encode_record,
)
from factory.models import Outcome, Record, Status
from factory.pipeline import CHANNEL, WorkerConfig
from factory.pipeline.settle import archived_by_run
from factory.urls import mask_url

POLL_SECONDS = 0.05
#: The most records one task carries when the coordinator sizes tasks from the render time.
MAX_TASK_RECORDS = 50  # even at 2 s per record, far under the time limit


class CeleryExecutor:
    """Runs chunks on Celery workers consuming ``options.queue``."""

    name = "celery"

    def __init__(self, options: ClusterOptions, in_flight_per_worker: int = 2,
                 stall_seconds: float | None = None) -> None:
        self.options = options.check()
        self.workers = 1
        self.in_flight_per_worker = in_flight_per_worker
        self.stall_seconds = stall_seconds or options.hard_time_limit + 60
        self.app: Any = None
        self.live: LiveCounts | None = None
        self._pending: dict[str, tuple[AsyncResult, list[Record]]] = {}
        self._finished: dict[str, dict[str, Any]] = {}  # task id: its result, read by the poll
        self._started = 0.0  # when the first task was sent
        self._returned = 0  # records whose outcomes came back

    @property
    def where(self) -> str:
        return f"queue {self.options.queue!r} on {mask_url(self.options.broker_url)}"

    def connect(self) -> int:
        """Check that workers consume the queue; return how many processes they have."""
        if self.app is None:
            self.app = make_app(self.options)
        from kombu.exceptions import OperationalError

        try:
            self.workers = self._processes()
        except (OSError, OperationalError) as exc:  # kombu's is not an OSError
            raise ConfigError(f"cannot reach the broker for {self.where}:"
                              f" {exc}") from None
        if not self.workers:
            raise ConfigError(f"no Celery worker consumes {self.where}; start workers with"
                              " `docfactory worker` (same FACTORY_BROKER_URL and"
                              " FACTORY_CLUSTER)")
        return self.workers

    def _processes(self) -> int:
        inspect = self.app.control.inspect(timeout=2.0)
        queues = inspect.active_queues() or {}
        nodes = [node for node, found in queues.items()
                 if any(q.get("name") == self.options.queue for q in found)]
        if not nodes:
            return 0
        stats = self.app.control.inspect(destination=nodes, timeout=2.0).stats() or {}
        return sum(int(s.get("pool", {}).get("max-concurrency", 1)) for s in stats.values()) \
            or len(nodes)

    def start(self, config: WorkerConfig) -> None:
        if self.app is None:
            self.connect()
        if self.live is None:
            self.live = LiveCounts(self.options.broker_url, self.options.name, config.run_id,
                                   self.workers)
            self.live.write()

    def map(self, config: WorkerConfig, chunks: Iterator[list[Record]]
            ) -> Iterator[list[Outcome]]:
        self.start(config)
        assert self.live is not None
        described = encode_config(config)
        window = max(2, self.in_flight_per_worker * self.workers)
        exhausted = False
        try:
            while True:
                while not exhausted and len(self._pending) < window:
                    chunk, exhausted = self._next_task(chunks)
                    if not chunk:
                        break
                    self._send(described, chunk)
                if not self._pending:
                    self.live.write("finished")
                    return
                for task_id in self._wait():
                    result, chunk = self._pending.pop(task_id)
                    outcomes = self._outcomes(result, chunk, config)
                    self.live.returned(outcomes)
                    self._returned += len(outcomes)
                    self.live.write(every=LIVE_SECONDS)
                    yield outcomes
        finally:
            self.close(cancel=True)

    def task_size(self, given: int) -> int:
        """Records per task: ``given`` (the runner's chunk size) until outcomes come back, then
        enough for about ``options.task_seconds`` of a worker's time at the rate measured so
        far (each worker process's seconds per record: processes × elapsed / records back),
        at most `MAX_TASK_RECORDS`; ``task_seconds`` 0 keeps ``given``. Bigger tasks mean fewer
        broker messages and polls per record; the bound keeps the tail of a run short."""
        target = self.options.task_seconds
        if not target or not self._returned:
            return given
        per_record = self.workers * (time.monotonic() - self._started) / self._returned
        return max(given, min(MAX_TASK_RECORDS, int(target / max(per_record, 1e-6))))

    def _next_task(self, chunks: Iterator[list[Record]]) -> tuple[list[Record], bool]:
        """The records of the next task (runner chunks joined up to `task_size`), and
        whether the chunks are exhausted."""
        task: list[Record] = []
        while True:
            chunk = next(chunks, None)
            if chunk is None:
                return task, True
            task += chunk
            if len(task) >= self.task_size(len(chunk)):
                return task, False

    def _send(self, described: dict[str, Any], chunk: list[Record]) -> None:
        payload = {"config": described, "records": [encode_record(r) for r in chunk]}
        summary = f"run {described['run_id']}: {len(chunk)} record(s) {chunk[0].key}.."
        result = self.app.send_task(TASK, kwargs={"payload": payload},
                                    queue=self.options.queue, argsrepr="()",
                                    kwargsrepr=summary)
        self._pending[result.id] = (result, chunk)
        self._started = self._started or time.monotonic()
        assert self.live is not None
        self.live.sent(len(chunk))

    def _ready(self) -> list[str]:
        """Ids of the finished tasks in flight, from one MGET of their result keys (not a GET
        per task per poll: with hundreds of tasks in flight that was most of Redis's load)."""
        backend = self.app.backend
        ids = list(self._pending)
        values = backend.mget([backend.get_key_for_task(task_id) for task_id in ids])
        ready = []
        for task_id, value in zip(ids, values, strict=True):
            meta = backend.decode(value) if value is not None else None
            if meta is not None and meta.get("status") in states.READY_STATES:
                # kept: `_outcomes` reads it from here instead of `AsyncResult.get`, whose
                # Redis backend subscribes, fetches and unsubscribes again per task
                self._finished[task_id] = meta
                ready.append(task_id)
        return ready

    def _wait(self) -> list[str]:
        """Ids of finished tasks (at least one), polling the result backend."""
        quiet_since = time.monotonic()
        while True:
            ready = self._ready()
            if ready:
                return ready
            if time.monotonic() - quiet_since > self.stall_seconds:
                if not self._processes():
                    raise FactoryError(
                        f"no Celery worker has consumed {self.where} for"
                        f" {self.stall_seconds:.0f} s; the run stopped. Start workers and run"
                        " the same command again: archived records are skipped")
                quiet_since = time.monotonic()
            time.sleep(POLL_SECONDS)

    def _outcomes(self, result: AsyncResult, chunk: list[Record], config: WorkerConfig
                  ) -> list[Outcome]:
        meta = self._finished.pop(result.id, None)
        if meta is not None:
            meta = self.app.backend.meta_from_decoded(meta)  # a failure's exception rebuilt
            value, succeeded = meta["result"], meta["status"] == states.SUCCESS
        else:
            value = result.get(propagate=False, disable_sync_subtasks=False)
            succeeded = result.successful()
        result.forget()
        if not succeeded and type(value).__name__ == "WorkerLostError":
            return _settle_lost_chunk(chunk, config)
        if not succeeded and type(value).__name__ == "NoSpaceError":
            raise NoSpaceError(f"a worker: {value}")  # a stop condition, as in the local pool
        if not succeeded:
            raise FactoryError(
                f"a worker failed a chunk of {len(chunk)} record(s) starting at"
                f" {chunk[0].key} ({type(value).__name__}: {value}); the run stopped."
                " Fix the worker and run the same command again: archived records are skipped")
        outcomes = [decode_outcome(item) for item in value]
        if sorted(o.key for o in outcomes) != sorted(r.key for r in chunk):
            raise FactoryError(f"a worker returned outcomes for other records than it was sent"
                               f" (chunk starting at {chunk[0].key})")
        return outcomes

    def close(self, cancel: bool = False) -> None:
        if self._pending and self.app is not None:
            ids = list(self._pending)
            if cancel:
                self.app.control.revoke(ids)
            for result, _chunk in self._pending.values():
                result.forget()
            self._pending.clear()
            self._finished.clear()
        if self.live is not None:
            self.live.write("stopped" if cancel and self.live.values["state"] == "running"
                            else None)
            self.live.close()
            self.live = None
        if self.app is not None and cancel:
            self.app.close()
            self.app = None


def _settle_lost_chunk(chunk: list[Record], config: WorkerConfig) -> list[Outcome]:
    """Outcomes of a chunk whose worker processes died on every attempt: the records this run
    archived before a process died are archived (the index says so: `archived_by_run`), the
    others failed."""
    job = config.load_job()
    reason = ("a worker process died on this chunk, killed or out of memory, on every attempt"
              " its retries allowed")
    index = open_index(config.index_url, migrate=False)
    try:
        outcomes = []
        for record in chunk:
            entry = index.documents.find(Slot(job.name, config.period, record.key, CHANNEL,
                                              job.document_type))
            outcomes.append(archived_by_run(job, record, entry, config.run_id) or Outcome(
                record.key, record.position, Status.FAILED, reason=reason))
        return outcomes
    finally:
        index.close()


__all__ = ["CeleryExecutor", "ClusterOptions"]
