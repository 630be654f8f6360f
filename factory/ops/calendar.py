"""The calendar of scheduled jobs: their next firings and the past ones with their runs.

Takes job specs (those with a ``schedule`` count), the open index and the moment; gives
`calendar_of`, a dict with ``upcoming`` (job, time, period; soonest first) and ``past`` (job,
time, period, status, run id, note; newest first) for those jobs only. Used by ``docfactory
calendar`` and the web run list.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from factory.archive.index import SqlIndex
from factory.archive.schedule import FiringLog
from factory.jobs import JobSpec
from factory.ops.scheduler import upcoming


def calendar_of(jobs: Iterable[JobSpec], index: SqlIndex, now: datetime, count: int = 3,
                past: int = 20) -> dict[str, list[dict[str, Any]]]:
    scheduled = [job for job in jobs if job.schedule is not None]
    names = {job.name for job in scheduled}
    coming = sorted((firing for job in scheduled if job.schedule is not None
                     for firing in upcoming(job.name, job.schedule, now, count)),
                    key=lambda firing: firing.at)
    history = [row for row in FiringLog(index).list(limit=past * 4 if past else 0)
               if row["job"] in names][:past] if past else []
    return {
        "upcoming": [{"job": f.job, "at": f.at, "period": f.period} for f in coming],
        "past": [{"job": r["job"], "at": r["fired_at"], "period": r["period"],
                  "status": r["status"], "run_id": r["run_id"], "note": r["note"]}
                 for r in history],
    }
