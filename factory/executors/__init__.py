"""Executors: where the per-record work runs. Inline, a local process pool, or Celery.

Takes a `WorkerConfig` and chunks of records; gives outcomes. Each satisfies
`factory.executors.base.Executor`; `make_executor` picks one by name from the registry. The
Celery executor (`factory.executors.celery`) is imported only when asked for, so Celery is
needed only on a cluster.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:
    from factory.executors.pool import PoolExecutor, default_workers

#: Names re-exported from `factory.executors.pool` on first use (PEP 562): the pool imports
#: multiprocessing and concurrent.futures, which `docfactory status` or `runs` never need.
_FROM_POOL = ("PoolExecutor", "default_workers")


def __getattr__(name: str) -> Any:
    if name in _FROM_POOL:
        from factory.executors import pool

        value = getattr(pool, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _pool(options: ExecutorOptions) -> Executor:
    from factory.executors.pool import PoolExecutor

    return PoolExecutor(options.workers)


def _celery(options: ExecutorOptions) -> Executor:
    if options.cluster is None:
        raise ConfigError("the celery executor needs a broker URL (FACTORY_BROKER_URL)")
    from factory.executors.celery import CeleryExecutor

    return CeleryExecutor(options.cluster)


register_executor("pool", _pool)
register_executor("inline", lambda options: InlineExecutor())
register_executor("celery", _celery)

#: The executor names, for choices in the CLI and messages.
EXECUTORS = executor_names()

__all__ = ["EXECUTORS", "Executor", "InlineExecutor", "PoolExecutor", "RemoteWorkers",
           "default_workers",
           "executor_names", "make_executor", "register_executor"]
