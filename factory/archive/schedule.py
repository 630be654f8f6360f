"""The scheduler's record of firings, in the index: so a firing happens once, across restarts
and across several schedulers.

Takes an open `SqlIndex`; gives `FiringLog`. A firing is *claimed* by inserting its row
(job, nominal firing time) before its run starts: the primary key lets one scheduler in, so a
restarted or second scheduler never fires it again. The row then says what became of it:

    claimed  → started (run_id)   the run was started (its own row in ``runs`` says how it ended)
             → skipped (note)     the same job and period was still live: nothing started
             → failed (note)      the run could not start (a configuration error, say)
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy import update as sql_update
from sqlalchemy.exc import IntegrityError

from factory.archive.index import SqlIndex
from factory.archive.tables import schedule_firings as firings

STATUSES = ("claimed", "started", "skipped", "failed")


class FiringLog:
    def __init__(self, index: SqlIndex) -> None:
        self.index = index

    def claim(self, job: str, fired_at: datetime, period: str, now: datetime) -> bool:
        """Take the firing of ``job`` at ``fired_at``; False when it was taken before."""
        with self.index.begin() as connection:
            try:
                with connection.begin_nested():  # the outer transaction survives a conflict
                    connection.execute(insert(firings).values(
                        job=job, fired_at=fired_at, period=period, status="claimed",
                        created_at=now, updated_at=now))
            except IntegrityError:
                return False
        return True

    def settle(self, job: str, fired_at: datetime, status: str, *, run_id: str | None = None,
               note: str | None = None, now: datetime | None = None) -> None:
        assert status in STATUSES, status
        with self.index.begin() as connection:
            connection.execute(sql_update(firings).where(
                firings.c.job == job, firings.c.fired_at == fired_at).values(
                status=status, run_id=run_id, note=note, updated_at=now or datetime.now(UTC)))

    def last(self, job: str) -> datetime | None:
        """The newest firing time recorded for ``job``."""
        with self.index.connect() as connection:
            row = connection.execute(
                select(firings.c.fired_at).where(firings.c.job == job)
                .order_by(firings.c.fired_at.desc()).limit(1)).first()
        return row[0] if row else None

    def list(self, job: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        query = select(firings).order_by(firings.c.fired_at.desc()).limit(limit)
        if job is not None:
            query = query.where(firings.c.job == job)
        with self.index.connect() as connection:
            return [dict(row._mapping) for row in connection.execute(query)]
