"""Executors: where the per-record work runs. Inline, a local process pool, or Celery.

Takes a `WorkerConfig` and chunks of records; gives outcomes. Each satisfies
`factory.executors.base.Executor`; `make_executor` picks one by name from the registry. The
Celery executor (`factory.executors.celery`) is imported only when asked for, so Celery is
needed only on a cluster.
"""

from __future__ import annotations

from factory.errors import ConfigError
from factory.executors.base import (
    Executor,
    ExecutorOptions,
    RemoteWorkers,
    executor_names,
    make_executor,
    register_executor,
)
from factory.executors.inline import InlineExecutor
from factory.executors.pool import PoolExecutor, default_workers


def _celery(options: ExecutorOptions) -> Executor:
    if options.cluster is None:
        raise ConfigError("the celery executor needs a broker URL (FACTORY_BROKER_URL)")
    from factory.executors.celery import CeleryExecutor

    return CeleryExecutor(options.cluster)


register_executor("pool", lambda options: PoolExecutor(options.workers))
register_executor("inline", lambda options: InlineExecutor())
register_executor("celery", _celery)

#: The executor names, for choices in the CLI and messages.
EXECUTORS = executor_names()

__all__ = ["EXECUTORS", "Executor", "InlineExecutor", "PoolExecutor", "RemoteWorkers",
           "default_workers",
           "executor_names", "make_executor", "register_executor"]
