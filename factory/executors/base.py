"""The executor protocol and its registry: where the per-record work of a run is done.

Takes nothing; gives `Executor` (the small protocol the runner drives: start, map, close), the
`RemoteWorkers` (an executor that can check its workers are there), the
registry `register_executor` / `executor_names` / `make_executor`, and `ExecutorOptions` (what
an executor may be built from). Implementations register themselves by name: ``inline`` (this
process), ``pool`` (local warm processes), ``celery`` (workers over a broker; imported only when
asked for, so Celery is needed only on a cluster).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from factory.errors import ConfigError
from factory.models import Outcome, Record

if TYPE_CHECKING:
    from factory.executors.cluster import ClusterOptions
    from factory.pipeline import WorkerConfig


class Executor(Protocol):
    """Runs chunks of records through workers; yields each chunk's outcomes when done."""

    name: str
    workers: int

    def start(self, config: WorkerConfig) -> None:
        """Begin warming up workers (may return before they are ready)."""
        ...

    def map(self, config: WorkerConfig, chunks: Iterator[list[Record]]
            ) -> Iterator[list[Outcome]]: ...

    def close(self, cancel: bool = False) -> None: ...


@runtime_checkable
class RemoteWorkers(Protocol):
    """An executor whose workers run elsewhere (Celery): `connect` checks that some consume
    its queue before a run starts, and returns how many processes they have."""

    def connect(self) -> int: ...


@dataclass(frozen=True)
class ExecutorOptions:
    """What an executor may be built from: a worker count, the cluster's broker."""

    workers: int | None = None
    cluster: ClusterOptions | None = None


_EXECUTORS: dict[str, Callable[[ExecutorOptions], Executor]] = {}


def register_executor(name: str, factory: Callable[[ExecutorOptions], Executor]) -> None:
    _EXECUTORS[name] = factory


def executor_names() -> tuple[str, ...]:
    """The registered executors, in registration order (the first is the default)."""
    return tuple(_EXECUTORS)


def make_executor(name: str, workers: int | None = None,
                  cluster: ClusterOptions | None = None) -> Executor:
    try:
        factory = _EXECUTORS[name]
    except KeyError:
        raise ConfigError(f"unknown executor {name!r} (known:"
                          f" {', '.join(executor_names())})") from None
    return factory(ExecutorOptions(workers, cluster))
