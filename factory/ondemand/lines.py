"""What the on-demand service keeps per job: its run of the day and its warm workers.

`OnDemandRun` is the on-demand run of one job and day (its index row and its accounting, with
a lock: requests of one job are served by several threads); `WarmLine` holds the built
`Worker` values of one job and period, up to the pool size (`factory.ondemand.service`).
"""

from __future__ import annotations

import queue
import threading
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

    def account(self, item: Outcome | Reject) -> None:
        with self.lock:
            if isinstance(item, Reject):
                self.state.counts.input += 1
                self.state.rejected(item)
            else:
                self.state.outcome(item)
            self.beat()

    def next_position(self) -> Position:
        with self.lock:
            self.count += 1
            return Position(SOURCE, self.count)

    def beat(self) -> None:
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
