"""The inline executor: every chunk processed in the calling process, in order.

Takes a `WorkerConfig` and chunks; gives outcomes. For tests, debugging (``--executor inline``)
and tiny batches: no process start-up, tracebacks where you can see them.
"""

from __future__ import annotations

from collections.abc import Iterator

from factory.models import Outcome, Record
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
            yield worker.process_chunk(chunk)

    def close(self, cancel: bool = False) -> None:
        pass
