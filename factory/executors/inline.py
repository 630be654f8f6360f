"""The inline executor: every chunk processed in the calling process, in order.

Takes a `WorkerConfig` and chunks; gives outcomes. For tests, debugging (``--executor inline``)
and tiny batches: no process start-up, tracebacks where you can see them. No memory cap (it is
the caller's process), but a MemoryError still fails just its record.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from factory.executors.limits import process_guarded
from factory.models import Outcome, Record

if TYPE_CHECKING:
    from factory.pipeline import WorkerConfig


class InlineExecutor:
    name = "inline"
    workers = 1

    def start(self, config: WorkerConfig) -> None:
        pass

    def map(self, config: WorkerConfig, chunks: Iterator[list[Record]]
            ) -> Iterator[list[Outcome]]:
        from factory.pipeline.worker import worker_for

        worker = worker_for(config)
        for chunk in chunks:
            outcomes: list[Outcome] = []
            rest: list[Record] | None = chunk
            while rest:  # no process to replace here: the rest goes on in this one
                done, rest = process_guarded(worker, rest, None)
                outcomes += done
            yield outcomes

    def close(self, cancel: bool = False) -> None:
        pass
