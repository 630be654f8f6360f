"""A job's calendar: when it runs by itself and which period each firing produces.

Takes the ``schedule`` of a job file, either a cron line (UTC, the previous month)::

    schedule = "0 6 1 * *"

or a table::

    [schedule]
    cron = "0 6 1 * *"          # minute hour day-of-month month day-of-week
    timezone = "Europe/Prague"  # the cron line is read in this zone (default UTC)
    period = "previous-month"   # previous-month | current-month | previous-day | current-day

gives a validated `ScheduleSpec`, and `period_for` the period code a firing at a given moment
produces (a firing on 1 December 06:00 Prague with ``previous-month`` runs ``2026-11``).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, field_validator, model_validator

PeriodRule = Literal["previous-month", "current-month", "previous-day", "current-day"]


class ScheduleSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    cron: str
    timezone: str = "UTC"
    period: PeriodRule = "previous-month"

    @model_validator(mode="before")
    @classmethod
    def _from_line(cls, value: Any) -> Any:
        return {"cron": value} if isinstance(value, str) else value

    @field_validator("cron")
    @classmethod
    def _valid_cron(cls, value: str) -> str:
        if len(value.split()) != 5:
            raise ValueError(f"{value!r} is not a cron line of 5 fields (minute hour"
                             " day-of-month month day-of-week), e.g. \"0 6 1 * *\"")
        try:
            from croniter import croniter  # type: ignore[import-untyped, unused-ignore]
        except ImportError:  # checked again, with a clear error, by the scheduler
            return value
        if not croniter.is_valid(value):
            raise ValueError(f"{value!r} is not a valid cron line")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not a time zone (e.g. Europe/Prague, UTC)") from None
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


def period_for(spec: ScheduleSpec, fired: datetime) -> str:
    """The period code a firing at ``fired`` (aware) produces, in the schedule's zone."""
    local = fired.astimezone(spec.zone)
    if spec.period == "current-month":
        return f"{local:%Y-%m}"
    if spec.period == "previous-month":
        first = local.replace(day=1)
        return f"{first - timedelta(days=1):%Y-%m}"
    day = local.date() - timedelta(days=1) if spec.period == "previous-day" else local.date()
    return day.isoformat()
