"""The embedded scheduler: fires each job's calendar once per firing, across restarts.

Takes the jobs (their ``schedule``), an open index, a `Clock` and a ``start`` callable (given
a job, a period and a run id, it starts the run and returns; the CLI's runs it in a thread with
the local pool); gives `Scheduler`, whose ``tick`` fires what is due and whose ``run_forever``
loops. Per job and firing time (`factory.jobs.schedule` for the cron line and the period):

- the firing is claimed in the index first (`factory.archive.schedule.FiringLog`): a restarted
  scheduler, or a second one on another machine, never fires it again;
- firings missed while no scheduler ran (after the newest one recorded) are caught up, each
  once; for a job with no firing recorded, the calendar starts at ``baseline`` (the
  scheduler's start, or ``--catch-up-from``);
- a firing while the same job and period has a live run is skipped, with a note naming it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from factory.archive.index import SqlIndex
from factory.archive.schedule import FiringLog
from factory.errors import ConfigError, FactoryError
from factory.jobs import JobSpec
from factory.jobs.schedule import ScheduleSpec, period_for

LOG = logging.getLogger("docfactory.scheduler")
#: How often the loop looks at the calendar.
TICK_SECONDS = 20.0
#: At most this many missed firings of one job are caught up at once (a scheduler down for
#: years does not start hundreds of runs).
CATCH_UP_LIMIT = 24


class Clock(Protocol):
    def now(self) -> datetime: ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


@dataclass(frozen=True)
class Firing:
    job: str
    at: datetime
    period: str


def _croniter(spec: ScheduleSpec, start: datetime) -> Any:
    try:
        from croniter import croniter  # type: ignore[import-untyped, unused-ignore]
    except ImportError:
        raise ConfigError("schedules need the schedule extra: pip install"
                          " 'docfactory[schedule]'") from None
    return croniter(spec.cron, start.astimezone(spec.zone))


def firings_between(job: str, spec: ScheduleSpec, after: datetime, until: datetime
                    ) -> Iterator[Firing]:
    """The firings of ``spec`` in (after, until], oldest first."""
    times = _croniter(spec, after)
    while True:
        moment = times.get_next(datetime).astimezone(UTC)
        if moment > until:
            return
        yield Firing(job, moment, period_for(spec, moment))


def upcoming(job: str, spec: ScheduleSpec, now: datetime, count: int) -> list[Firing]:
    times = _croniter(spec, now)
    found = []
    for _ in range(count):
        moment = times.get_next(datetime).astimezone(UTC)
        found.append(Firing(job, moment, period_for(spec, moment)))
    return found


StartRun = Callable[[JobSpec, str, str], None]


class Scheduler:
    def __init__(self, jobs: Iterable[JobSpec], index: SqlIndex, start: StartRun,
                 clock: Clock | None = None, baseline: datetime | None = None,
                 new_run_id: Callable[[datetime], str] | None = None) -> None:
        self.jobs = [job for job in jobs if job.schedule is not None]
        self.index = index
        self.log = FiringLog(index)
        self.start = start
        self.clock = clock or SystemClock()
        self.baseline = baseline or self.clock.now()
        self._new_run_id = new_run_id

    def due(self, now: datetime) -> list[Firing]:
        due: list[Firing] = []
        for job in self.jobs:
            assert job.schedule is not None
            after = self.log.last(job.name) or self.baseline
            missed = list(firings_between(job.name, job.schedule, after, now))
            due.extend(missed[-CATCH_UP_LIMIT:])
        return sorted(due, key=lambda firing: firing.at)

    def tick(self) -> list[dict[str, Any]]:
        """Fire what is due now; what became of each firing this scheduler claimed."""
        done = []
        for firing in self.due(self.clock.now()):
            job = next(j for j in self.jobs if j.name == firing.job)
            if not self.log.claim(firing.job, firing.at, firing.period, self.clock.now()):
                continue  # another scheduler took it
            done.append(self._fire(job, firing))
        return done

    def _fire(self, job: JobSpec, firing: Firing) -> dict[str, Any]:
        context = {"job": job.name, "period": firing.period, "firing": firing.at.isoformat()}
        live = self.index.runs.live_run(job.name, firing.period)
        if live is not None:
            note = f"skipped: run {live.run_id} of {job.name} {firing.period} is still live"
            self.log.settle(job.name, firing.at, "skipped", note=note, now=self.clock.now())
            LOG.warning(note, extra={**context, "status": "skipped"})
            return {**context, "status": "skipped", "note": note}
        run_id = self._run_id()
        try:
            self.start(job, firing.period, run_id)
        except FactoryError as exc:
            self.log.settle(job.name, firing.at, "failed", note=str(exc), now=self.clock.now())
            LOG.error("firing of %s %s failed to start: %s", job.name, firing.period, exc,
                      extra={**context, "status": "failed", "reason": str(exc)})
            return {**context, "status": "failed", "note": str(exc)}
        self.log.settle(job.name, firing.at, "started", run_id=run_id, now=self.clock.now())
        LOG.info("fired %s %s: run %s", job.name, firing.period, run_id,
                 extra={**context, "status": "started", "run_id": run_id})
        return {**context, "status": "started", "run_id": run_id}

    def _run_id(self) -> str:
        if self._new_run_id is not None:
            return self._new_run_id(self.clock.now())
        from factory.runner.run import new_run_id

        return new_run_id()

    def run_forever(self, stop: Callable[[], bool] = lambda: False,
                    interval: float = TICK_SECONDS,
                    on_tick: Callable[[], object] | None = None) -> None:
        """Tick every ``interval`` seconds until ``stop()``; ``on_tick`` after each (the stall
        watch)."""
        while not stop():
            try:
                self.tick()
                if on_tick is not None:
                    on_tick()
            except FactoryError as exc:  # the index is away: try again at the next tick
                LOG.error("scheduler tick failed: %s", exc, extra={"status": "failed"})
            self.clock.sleep(interval)
