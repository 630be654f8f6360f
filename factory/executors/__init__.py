"""Executors: where the per-record work runs. Inline, a local process pool, or Celery.

Takes a `WorkerConfig` and chunks of records; gives outcomes. Each satisfies
`factory.runner.Executor`; `make_executor` picks one by name.
"""

from __future__ import annotations

from factory.errors import ConfigError
from factory.executors.inline import InlineExecutor
from factory.executors.pool import PoolExecutor, default_workers


def make_executor(name: str, workers: int | None = None) -> InlineExecutor | PoolExecutor:
    if name == "inline":
        return InlineExecutor()
    if name == "pool":
        return PoolExecutor(workers)
    raise ConfigError(f"unknown executor {name!r} (known: inline, pool)")


__all__ = ["InlineExecutor", "PoolExecutor", "default_workers", "make_executor"]
