"""The runs table: who runs which job for which period, with which fencing epoch.

Takes a `Database`; gives `RunRow` values. `start_run` registers a run under a per-(job,
period) lock and hands out its epoch (one more than any earlier run of the job and period:
its fencing token); `live_epoch` is the check the claim protocol makes, inside its own
transaction, before a run may take a record.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select, text, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from factory.archive.db import Connections, now
from factory.archive.rows import RunConflict, RunRow, Slot
from factory.archive.tables import runs
from factory.errors import FencedError


def live_epoch(connection: Connection, run_id: str, slot: Slot) -> int:
    """The epoch of ``run_id``, if it may still claim work; `FencedError` otherwise."""
    run = connection.execute(select(runs.c.status, runs.c.epoch, runs.c.job,
                                    runs.c.period).where(runs.c.run_id == run_id)).first()
    if run is None:
        return 0
    if run.status != "running":
        raise FencedError(f"{slot.record_key}: run {run_id} is {run.status}, no longer live"
                          f" (a newer run of {run.job} {run.period} took over); this"
                          " attempt stops without writing")
    return int(run.epoch)


class RunRepository:
    """Registering, beating, finishing and listing runs."""

    def __init__(self, db: Connections) -> None:
        self.db = db

    def start_run(self, run_id: str, job: str, period: str, *, executor: str, workers: int,
                  template_version: str, dry_run: bool, owner: str = "",
                  stale_after: timedelta = timedelta(minutes=5), actor: str = "",
                  reason: str | None = None) -> int:
        """Register a run; refuse if a live run of the same job and period exists; return the
        run's epoch (one more than any earlier run of the job and period: its fencing token).

        A run is live while its heartbeat is recent, unless its ``owner`` (``host:pid`` of
        the coordinator) is on this host and that process is gone (killed): then the new run
        takes over at once instead of waiting for the heartbeat to go stale, and the old one is
        marked abandoned, which fences its workers off. The database enforces the rule: the
        check and the insert run under a per-(job, period) advisory lock on PostgreSQL (SQLite
        serialises writers), and a partial unique index allows one "running" row per job and
        period, so two runs starting at the same moment can never both start.
        """
        moment = now()
        with self.db.begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(7261002, hashtext(:k))"),
                                   {"k": f"{job}|{period}"})
            epoch = 0
            if not dry_run:
                for other in _running(connection, job, period):
                    if _live(other, stale_after, moment):
                        raise _conflict(other, job, period)
                    connection.execute(update(runs).where(runs.c.run_id == other.run_id)
                                       .values(status="abandoned"))
                last = connection.execute(select(func.max(runs.c.epoch)).where(
                    runs.c.job == job, runs.c.period == period)).scalar_one_or_none()
                epoch = int(last or 0) + 1
            try:
                with connection.begin_nested():
                    connection.execute(insert(runs).values(
                        run_id=run_id, job=job, period=period, status="running",
                        dry_run=dry_run, executor=executor, workers=workers,
                        template_version=template_version, started_at=moment,
                        heartbeat_at=moment, owner=owner, epoch=epoch, actor=actor[:64],
                        reason=reason))
            except IntegrityError:  # the unique index on live runs: a run started meanwhile
                raise RunConflict(f"another run of {job} for {period} started at the same"
                                  " moment; wait for it, or stop it first") from None
        return epoch

    def live_run(self, job: str, period: str,
                 stale_after: timedelta = timedelta(minutes=5)) -> RunRow | None:
        """The live run of ``job`` for ``period`` that `start_run` would refuse to start
        beside, or None."""
        moment = now()
        with self.db.connect() as connection:
            live = [r for r in _running(connection, job, period)
                    if _live(r, stale_after, moment)]
        return RunRow.from_row(live[0]._mapping) if live else None

    def heartbeat(self, run_id: str, report: Mapping[str, Any] | None = None) -> None:
        values: dict[str, Any] = {"heartbeat_at": now()}
        if report is not None:
            values["report"] = json.dumps(report, ensure_ascii=False)
        with self.db.begin() as connection:
            connection.execute(update(runs).where(runs.c.run_id == run_id).values(**values))

    def finish_run(self, run_id: str, status: str, report: Mapping[str, Any]) -> None:
        with self.db.begin() as connection:
            connection.execute(update(runs).where(runs.c.run_id == run_id).values(
                status=status, finished_at=now(), heartbeat_at=now(),
                report=json.dumps(report, ensure_ascii=False)))

    def get(self, run_id: str) -> RunRow | None:
        with self.db.connect() as connection:
            row = connection.execute(select(runs).where(runs.c.run_id == run_id)).first()
        return RunRow.from_row(row._mapping) if row else None

    def recent(self, job: str | Sequence[str] | None = None, limit: int = 20) -> list[RunRow]:
        """The newest runs, of one job or of any of several (``job``), or of all."""
        query = select(runs).order_by(runs.c.started_at.desc()).limit(limit)
        if isinstance(job, str) and job:
            query = query.where(runs.c.job == job)
        elif job is not None and not isinstance(job, str):
            query = query.where(runs.c.job.in_(list(job)))
        with self.db.connect() as connection:
            return [RunRow.from_row(row._mapping) for row in connection.execute(query)]


def run_owner() -> str:
    """``host:pid`` of this process, recorded with the runs it coordinates."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _running(connection: Connection, job: str, period: str) -> list[Any]:
    return list(connection.execute(select(runs).where(
        runs.c.job == job, runs.c.period == period, runs.c.status == "running",
        runs.c.dry_run.is_(False))).all())


def _conflict(other: Any, job: str, period: str) -> RunConflict:
    return RunConflict(f"run {other.run_id} of {job} for {period} is still running"
                       f" (last heartbeat {other.heartbeat_at:%Y-%m-%d %H:%M:%S} UTC);"
                       " wait for it, or stop it first")


def _live(run: Any, stale_after: timedelta, moment: datetime) -> bool:
    """A running run is live while its heartbeat is recent and its coordinator may exist."""
    return bool(run.heartbeat_at + stale_after > moment and _owner_alive(run.owner))


def _owner_alive(owner: str) -> bool:
    """False only when ``owner`` is a process of this host that no longer exists."""
    host, _, pid = (owner or "").rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
