"""Runs started from the API: checked at once, then run in a background thread.

Takes a job, a period and options; gives a run id immediately. Before returning it prepares
the run (job, templates, brand, source columns: the errors that would stop it before the
first record, raised here as a 400) and refuses a second live run of the same job and period
(409) or more than ``max_runs`` at once. The run itself is the ordinary `run_job` with the
configured executor (a warm local process pool by default), so it is registered in the
``runs`` table, heartbeats and reports like any other; `status` covers the moment before it
is registered and a run that failed to start.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass

from factory.archive import RunConflict
from factory.archive.audit import Actor
from factory.archive.protocols import HasRuns
from factory.config import Settings
from factory.errors import FactoryError, LimitExceededError
from factory.executors import make_executor
from factory.jobs import JobSpec
from factory.ops.notify import notify_run
from factory.runner import NoProgress, Prepared, RunOptions, new_run_id, prepare, run_job


@dataclass
class Launch:
    run_id: str
    job: str
    period: str
    thread: threading.Thread
    error: str | None = None


class RunLauncher:
    def __init__(self, settings: Settings, index: HasRuns, executor: str = "pool",
                 workers: int = 1, max_runs: int = 2) -> None:
        self.settings = settings
        self.index = index
        self.executor = executor
        self.workers = workers
        self.max_runs = max_runs
        self._launches: dict[str, Launch] = {}
        self._lock = threading.Lock()

    def start(self, job: JobSpec, period: str, *, limit: int | None = None,
              force: bool = False, reason: str = "", actor: Actor | None = None,
              on_start: Callable[[str], None] | None = None) -> str:
        """Check, then start in the background; ``on_start(run_id)`` runs (and may refuse by
        raising) after the checks and before the run begins: the audit entry."""
        who = actor or Actor("system", "system")
        options = RunOptions(period=period, limit=limit, force=force, run_id=new_run_id(),
                             chunk_size=4, force_reason=reason, actor=who.id,
                             actor_role=who.role)
        prepared = prepare(job, self.settings, options)
        with self._lock:
            busy = [launch for launch in self._launches.values() if launch.thread.is_alive()]
            if len(busy) >= self.max_runs:
                raise LimitExceededError(f"{len(busy)} runs started here are still going (at"
                                         f" most {self.max_runs}); try again when one ends")
            for launch in busy:
                if launch.job == job.name and launch.period == prepared.period.code:
                    raise RunConflict(f"run {launch.run_id} of {job.name} for"
                                      f" {launch.period} is still running")
            self._check_index(job.name, prepared.period.code)
            assert options.run_id is not None
            if on_start is not None:
                on_start(options.run_id)
            thread = threading.Thread(target=self._run, args=(job, options, prepared),
                                      name=f"docfactory-run-{options.run_id}")
            self._launches[options.run_id] = Launch(options.run_id, job.name,
                                                    prepared.period.code, thread)
            thread.start()
        return options.run_id

    def _check_index(self, job: str, period: str) -> None:
        """Refuse early what `RunRepository.start_run` would refuse in the background thread."""
        run = self.index.runs.live_run(job, period)
        if run is not None:
            raise RunConflict(f"run {run.run_id} of {job} for {period} is still running;"
                              " wait for it")

    def _run(self, job: JobSpec, options: RunOptions, prepared: Prepared) -> None:
        assert options.run_id is not None
        try:
            report = run_job(job, self.settings, options,
                             make_executor(self.executor, self.workers), NoProgress(), prepared)
            notify_run(job, report.as_dict(), os.environ)  # ops: notifications (a hook later)
        except FactoryError as exc:
            self._launches[options.run_id].error = str(exc)
        except Exception as exc:  # a thread must not die silently
            self._launches[options.run_id].error = f"crashed: {type(exc).__name__}: {exc}"

    def status(self, run_id: str) -> dict[str, str] | None:
        """What is known of a run launched here that the index may not have yet."""
        launch = self._launches.get(run_id)
        if launch is None:
            return None
        if launch.error:
            state = "failed to start"
        else:
            state = "starting" if launch.thread.is_alive() else "finished"
        return {"run_id": run_id, "job": launch.job, "period": launch.period,
                "status": state, "error": launch.error or ""}

    def close(self, timeout: float | None = None) -> None:
        """Wait for the runs started here (at shutdown)."""
        for launch in list(self._launches.values()):
            launch.thread.join(timeout)
