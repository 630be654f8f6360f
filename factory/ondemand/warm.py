"""Where the on-demand service renders: built `Worker` values in this process, or in warm
worker processes.

Takes a `Job` (one request's work: the `WorkerConfig` of the job's on-demand line, the
validated `Record`, who asks and why, and whether an idempotency key must match the record
archived first); gives its `Outcome`. One small protocol, `Renderers`, two implementations:

- `ThreadRenderers`: built workers of this process, per line (job and period) up to the pool
  size (`factory.ondemand.lines.WarmLine`). For ``docfactory render`` (one record: no process
  pool worth starting) and a service used inside one process.
- `ProcessRenderers`: a pool of worker processes from `factory.executors.pool.warm_processes`
  (forked from a fork server that has imported WeasyPrint and the pipeline, memory-capped,
  Ctrl-C ignored), each keeping built workers for its last few lines. Rendering holds the GIL,
  so this is what lets ``docfactory serve`` render on every core: with 8 clients both cores of
  this machine render, and the server's own thread only validates, counts and answers.

Either way the record goes through `Worker.process`, the batch's own pipeline: claims, fencing,
revisions and idempotency are the slot's, whichever process holds it. A process that dies
(killed, out of memory) fails the request with a retryable error and the pool is replaced.
"""

from __future__ import annotations

import dataclasses
import gc
import json
import threading
from collections import OrderedDict
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any, Protocol

from factory.errors import InputError, RetryableError
from factory.executors.pool import warm_processes
from factory.models import Outcome, Record
from factory.ondemand.lines import WarmLine
from factory.pipeline import CHANNEL, WorkerConfig
from factory.pipeline.worker import Worker

#: Lines (job, period, run, job text) whose built workers one process keeps at once.
LINES_PER_PROCESS = 4


@dataclass(frozen=True)
class Job:
    """One request's work, as it travels to the process that renders it (pickled)."""

    config: WorkerConfig
    record: Record
    force_reason: str = ""
    actor: str = "system"
    actor_role: str = "system"
    #: An Idempotency-Key was given: a retry must carry the record sent first.
    check_same: bool = False


def line_key(config: WorkerConfig) -> tuple[str, str, str, str]:
    return (config.job_path, config.period, config.run_id, config.job_text or "")


def serve(worker: Worker, job: Job) -> Outcome:
    """Run ``job`` through ``worker`` (the batch pipeline), in the calling process."""
    reason = job.force_reason.strip()
    worker.config = dataclasses.replace(job.config, force=bool(reason), force_reason=reason,
                                        actor=job.actor, actor_role=job.actor_role)
    outcome = worker.process(job.record)
    if job.check_same:
        same_record(worker, outcome, job.record)
    return outcome


def same_record(worker: Worker, outcome: Outcome, record: Record) -> None:
    """A retry must send the record it sent first: an Idempotency-Key reused for a different
    record is refused (`InputError`) instead of answered with the first record's document."""
    pdf = next((c for c in outcome.channels if c.channel == CHANNEL), None)
    if pdf is None or pdf.rendered or not pdf.document_id:
        return
    entry = worker.index.documents.get(pdf.document_id)
    if entry is None or not entry.record_storage_key:
        return
    first = json.loads(worker.store.get(entry.record_storage_key)).get("record")
    if _canonical(first) != _canonical(record.data):
        raise InputError(f"Idempotency-Key already used for a different record of"
                         f" {record.customer_id} (document {pdf.document_id}); use a new key")


def _canonical(data: Any) -> str:
    return json.dumps(data, sort_keys=True, ensure_ascii=False, default=str)


class Renderers(Protocol):
    """Renders on-demand jobs; thread-safe."""

    def render(self, job: Job) -> Outcome: ...

    def forget(self, job_path: str) -> None:
        """Let go of the lines of one job (its run of the day ended)."""
        ...

    def close(self) -> None: ...


class ThreadRenderers:
    """Built workers of this process: up to ``size`` per line, ``max_lines`` lines."""

    def __init__(self, size: int, max_lines: int) -> None:
        self.size = size
        self.max_lines = max_lines
        self._lines: OrderedDict[tuple[str, str, str, str], WarmLine] = OrderedDict()
        self._lock = threading.Lock()

    def render(self, job: Job) -> Outcome:
        line = self._line(job.config)
        worker = line.borrow()
        try:
            return serve(worker, job)
        finally:
            line.give_back(worker)

    def _line(self, config: WorkerConfig) -> WarmLine:
        key = line_key(config)
        with self._lock:
            line = self._lines.get(key)
            if line is None:
                for stale in [k for k in self._lines if k[:2] == key[:2]]:
                    self._lines.pop(stale).close()  # the job file or the run changed
                line = self._lines[key] = WarmLine(config, self.size)
                while len(self._lines) > self.max_lines:
                    self._lines.popitem(last=False)[1].close()
            self._lines.move_to_end(key)
            return line

    def forget(self, job_path: str) -> None:
        with self._lock:
            for key in [k for k in self._lines if k[0] == job_path]:
                self._lines.pop(key).close()

    def close(self) -> None:
        with self._lock:
            for line in self._lines.values():
                line.close()
            self._lines.clear()


class ProcessRenderers:
    """A pool of ``size`` warm worker processes; each request is rendered in one of them."""

    def __init__(self, size: int, memory_bytes: int | None) -> None:
        self.size = size
        self.memory_bytes = memory_bytes
        self._lock = threading.Lock()
        self._pool: ProcessPoolExecutor | None = warm_processes(size, memory_bytes)
        self.replacements = 0

    def render(self, job: Job) -> Outcome:
        pool = self._current()
        try:
            return pool.submit(_render_here, job).result()
        except BrokenProcessPool:
            self._replace(pool)
            raise RetryableError("an on-demand renderer process died (killed, or out of"
                                 " memory) and was replaced; nothing half-done is kept: send"
                                 " the request again") from None

    def _current(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                raise RetryableError("the on-demand service is closing")
            return self._pool

    def _replace(self, broken: ProcessPoolExecutor) -> None:
        with self._lock:
            if self._pool is broken:
                broken.shutdown(wait=False, cancel_futures=True)
                self._pool = warm_processes(self.size, self.memory_bytes)
                self.replacements += 1

    def forget(self, job_path: str) -> None:
        """Nothing to do here: each process keeps its last few lines and closes the oldest."""

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


# -- inside a worker process -------------------------------------------------------------------

_HERE: OrderedDict[tuple[str, str, str, str], Worker] = OrderedDict()


def _render_here(job: Job) -> Outcome:
    """In a worker process: the line's built worker (built on first use), then `serve`."""
    key = line_key(job.config)
    worker = _HERE.get(key)
    if worker is None:
        for stale in [k for k in _HERE if k[:2] == key[:2]]:
            _HERE.pop(stale).close()
        while len(_HERE) >= LINES_PER_PROCESS:
            _HERE.popitem(last=False)[1].close()
        worker = _HERE[key] = Worker(job.config)
        gc.collect()
        gc.freeze()  # as `worker_for` does: the warm state lives as long as the process
    _HERE.move_to_end(key)
    return serve(worker, job)
