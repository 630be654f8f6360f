"""What the on-demand service keeps per job: its run of the day and its warm workers.

`OnDemandRun` is the on-demand run of one job and day (its index row and its accounting, with
a lock: requests of one job are served by several threads; the report is written by the
service's heartbeat thread within a second of a change, not on the request's path);
`WarmLine` holds the built `Worker` values of one job and period, up to the pool size, for the
in-process renderers (`factory.ondemand.warm`).
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from factory.archive import SqlIndex
from factory.models import Outcome, Position, Reject
from factory.pipeline import WorkerConfig
from factory.pipeline.worker import Worker
from factory.runner.accounting import RunState
from factory.runner.files import write_json_atomic

SOURCE = "on-demand"


@dataclass
class OnDemandRun:
    """The on-demand run of one job and day: its index row and its accounting."""

    run_id: str
    job: str
    day: str
    index: SqlIndex
    state: RunState
    lock: threading.Lock = field(default_factory=threading.Lock)
    count: int = 0
    #: Counts changed since the report was last written (the service's heartbeat thread
    #: writes it within a second: no index write or file write on a request's path).
    dirty: bool = False
    beaten: float = field(default_factory=time.monotonic)
    #: When the index last said this run is still the live one (checked every few seconds).
    checked: float = field(default_factory=time.monotonic)

    def account(self, item: Outcome | Reject) -> None:
        with self.lock:
            if isinstance(item, Reject):
                self.state.counts.input += 1
                self.state.rejected(item)
            else:
                self.state.outcome(item)
            self.dirty = True

    def beat_if_due(self, every: float) -> None:
        """Write the report (index heartbeat and report.json) when counts changed, or when
        ``every`` seconds passed since the last write (the run's heartbeat)."""
        with self.lock:
            if self.dirty or time.monotonic() - self.beaten >= every:
                self.beat()

    def next_position(self) -> Position:
        with self.lock:
            self.count += 1
            return Position(SOURCE, self.count)

    def beat(self) -> None:
        self.dirty = False
        self.beaten = time.monotonic()
        report = self.state.report.as_dict()
        self.index.runs.heartbeat(self.run_id, report)
        write_json_atomic(self.state.run_dir / "report.json", report)

    def finish(self) -> None:
        with self.lock:
            self.state.settle()
            report = self.state.report
            report.finished_at = datetime.now(UTC)
            write_json_atomic(self.state.run_dir / "report.json", report.as_dict())
            self.index.runs.finish_run(self.run_id, report.status, report.as_dict())


class WarmLine:
    """Warm workers of one job and period, built lazily up to ``size``."""

    def __init__(self, config: WorkerConfig, size: int) -> None:
        self.config = config
        self.size = size
        self.idle: queue.Queue[Worker] = queue.Queue()
        self.built = 0
        self.lock = threading.Lock()
        self.all: list[Worker] = []

    def borrow(self) -> Worker:
        with self.lock:
            if self.idle.empty() and self.built < self.size:
                self.built += 1
                try:
                    worker = Worker(self.config)
                except BaseException:
                    self.built -= 1
                    raise
                self.all.append(worker)
                return worker
        return self.idle.get()

    def give_back(self, worker: Worker) -> None:
        self.idle.put(worker)

    def close(self) -> None:
        for worker in self.all:
            worker.close()
        self.all.clear()
