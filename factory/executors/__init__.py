"""Executors: where the per-record work runs. Inline, a local process pool, or Celery.

Takes a `WorkerConfig` and chunks of records; gives outcomes. Each satisfies
`factory.runner.Executor`; `make_executor` picks one by name. The Celery executor
(`factory.executors.celery`) is imported only when asked for, so Celery is needed only on a
cluster.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from factory.errors import ConfigError
from factory.executors.inline import InlineExecutor
from factory.executors.pool import PoolExecutor, default_workers

if TYPE_CHECKING:
    from factory.executors.cluster import ClusterOptions

EXECUTORS = ("pool", "inline", "celery")


def make_executor(name: str, workers: int | None = None,
                  cluster: ClusterOptions | None = None) -> Any:
    if name == "inline":
        return InlineExecutor()
    if name == "pool":
        return PoolExecutor(workers)
    if name == "celery":
        if cluster is None:
            raise ConfigError("the celery executor needs a broker URL (FACTORY_BROKER_URL)")
        from factory.executors.celery import CeleryExecutor

        return CeleryExecutor(cluster)
    raise ConfigError(f"unknown executor {name!r} (known: {', '.join(EXECUTORS)})")


__all__ = ["EXECUTORS", "InlineExecutor", "PoolExecutor", "default_workers", "make_executor"]
