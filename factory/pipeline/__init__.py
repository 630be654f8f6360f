"""The per-record flow that runs inside workers: render, store, index.

Takes a `WorkerConfig` and records; gives outcomes. See `worker.Worker`.
"""

from factory.pipeline.config import WorkerConfig
from factory.pipeline.document import DocumentRenderer
from factory.pipeline.worker import Worker, worker_for

__all__ = ["DocumentRenderer", "Worker", "WorkerConfig", "worker_for"]
