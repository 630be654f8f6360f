"""The per-record flow that runs inside workers: render, store, index.

Takes a `WorkerConfig` and records; gives outcomes. This package's top level is deliberately
light (no WeasyPrint): the coordinator imports `WorkerConfig` from here, and only worker
processes import `factory.pipeline.worker` (the flow) and `factory.pipeline.document` (the
renderer).
"""

from factory.pipeline.config import CHANNEL, WorkerConfig

__all__ = ["CHANNEL", "WorkerConfig"]
