"""The local pool: warm worker processes on this machine, the embedded default.

Takes a `WorkerConfig` and a lazy iterator of chunks; gives each chunk's outcomes as soon as it
is done. Workers are forked by a fork server that has already imported WeasyPrint and the
pipeline; each builds its `Worker` (fonts, stylesheets, templates, store, index) once, in its
initializer, and keeps it for the whole run. ``start`` launches and warms the workers while the
coordinator is still preparing the input. At most ``2 × workers`` chunks are in flight, so the
coordinator never reads ahead of the workers and its memory stays flat however large the input.
Workers ignore Ctrl-C; the coordinator decides. Each worker caps its own memory
(`factory.executors.limits`); a record that hits the cap fails with that reason, and the pool is
replaced by a fresh one (the chunks in flight finish first) before the next record is rendered.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import TYPE_CHECKING, TypeVar

from factory.errors import FactoryError
from factory.executors.limits import Guarded, cap_memory, process_guarded
from factory.models import Outcome, Record

if TYPE_CHECKING:
    from factory.pipeline import WorkerConfig

_PRELOAD = ["factory.pipeline.worker"]
_config: WorkerConfig | None = None
_T = TypeVar("_T")


def _init(config: WorkerConfig) -> None:
    from factory.pipeline.worker import worker_for

    global _config
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    cap_memory(config.settings.worker_memory_bytes)  # before warming: the fonts count too
    _config = config
    worker_for(config)


def _ready() -> int:
    return os.getpid()


def _init_plain(memory_bytes: int | None) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    cap_memory(memory_bytes)


def warm_processes(workers: int, memory_bytes: int | None) -> ProcessPoolExecutor:
    """A pool of ``workers`` processes forked from a fork server that has imported WeasyPrint
    and the pipeline, each ignoring Ctrl-C and capped at ``memory_bytes``, for callers that
    submit their own tasks (the on-demand service: `factory.ondemand.warm`); the tasks build
    and keep their warm `Worker` values themselves."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(_PRELOAD)
    return ProcessPoolExecutor(workers, mp_context=context, initializer=_init_plain,
                               initargs=(memory_bytes,))


def _process(chunk: list[Record]) -> Guarded:
    """The chunk's outcomes, and (when one hit the memory cap) the records left."""
    from factory.pipeline.worker import worker_for

    assert _config is not None
    return process_guarded(worker_for(_config), chunk, _config.settings.worker_memory_bytes)


def default_workers() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else \
        (os.cpu_count() or 1)


class PoolExecutor:
    """A pool of warm worker processes."""

    name = "pool"

    def __init__(self, workers: int | None = None, in_flight_per_worker: int = 2) -> None:
        self.workers = workers or default_workers()
        self.window = max(2, self.workers * in_flight_per_worker)
        self._pool: ProcessPoolExecutor | None = None
        self._warming: list[Future[int]] = []
        self._starter: threading.Thread | None = None
        self._start_error: BaseException | None = None
        self.replacements = 0  # times the pool was replaced after a worker hit its memory cap

    def start(self, config: WorkerConfig) -> None:
        """Launch the workers in the background; they build their warm state (imports, fonts,
        stylesheets: about a second) while the coordinator reads and validates the input."""
        if self._starter is None:
            self._starter = threading.Thread(target=self._launch, args=(config,),
                                             name="docfactory-pool-start", daemon=True)
            self._starter.start()

    def _launch(self, config: WorkerConfig) -> None:
        try:
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(_PRELOAD)
            self._pool = ProcessPoolExecutor(self.workers, mp_context=context,
                                             initializer=_init, initargs=(config,))
            self._warming = [self._pool.submit(_ready) for _ in range(self.workers)]
        except BaseException as exc:  # re-raised in the caller's thread by map()
            self._start_error = exc

    def _wait_started(self, config: WorkerConfig) -> None:
        """Start the workers (when not yet started), wait for the launch, re-raise its error."""
        self.start(config)
        assert self._starter is not None
        self._starter.join()
        if self._start_error is not None:
            raise self._start_error

    def map(self, config: WorkerConfig, chunks: Iterator[list[Record]]
            ) -> Iterator[list[Outcome]]:
        self._wait_started(config)
        assert self._pool is not None
        for warming in self._warming:
            self._result(warming)
        pending: set[Future[Guarded]] = set()
        exhausted = False
        left: list[list[Record]] = []  # records a worker could not take after hitting the cap
        try:
            while True:
                while not exhausted and len(pending) < self.window:
                    chunk = next(chunks, None) if not left else left.pop()
                    if chunk is None:
                        exhausted = True
                        break
                    pending.add(self._pool.submit(_process, chunk))
                if not pending:
                    return
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                replace = False
                for future in done:
                    outcomes, rest = self._result(future)
                    if rest is not None:  # its worker hit the memory cap
                        replace = True
                        if rest:
                            left.append(rest)
                    yield outcomes
                if replace:
                    yield from self._replace_workers(config, pending, left)
                    pending = set()
                    exhausted = exhausted and not left
        finally:
            self.close(cancel=True)

    def _replace_workers(self, config: WorkerConfig, pending: set[Future[Guarded]],
                         left: list[list[Record]]) -> Iterator[list[Outcome]]:
        """A worker hit its memory cap: let the chunks in flight finish, then start a fresh
        pool (warm again, about a second), so no damaged process renders another record."""
        for future in pending:
            outcomes, rest = self._result(future)
            yield outcomes
            if rest:
                left.append(rest)
        assert self._pool is not None
        self._pool.shutdown(wait=True)
        self._pool = None
        self.replacements += 1
        self._starter = None
        self._wait_started(config)
        for warming in self._warming:
            self._result(warming)

    @staticmethod
    def _result(future: Future[_T]) -> _T:
        try:
            return future.result()
        except BrokenProcessPool as exc:
            raise FactoryError(
                "a worker process died (killed, out of memory, or it could not start: see the"
                " messages above); the run stopped. Run the same command again: archived"
                " records are skipped, nothing is duplicated"
            ) from exc

    def close(self, cancel: bool = False) -> None:
        if self._starter is not None:
            self._starter.join()
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=cancel)
            self._pool = None
