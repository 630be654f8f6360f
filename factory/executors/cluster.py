"""How a cluster is reached and how its tasks behave: a small value, free of Celery.

Takes a Redis broker URL, a cluster name and task limits (the CLI reads them from
``FACTORY_BROKER_URL``, ``FACTORY_CLUSTER``, ``FACTORY_TASK_TIME_LIMIT``,
``FACTORY_TASK_RETRIES``); gives `ClusterOptions`, checked, the same on the coordinator and on
every worker. The cluster name is the queue name, the prefix of every Redis key and the name of
the control exchange, so several clusters (or test sessions) can share one Redis.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

from factory.errors import ConfigError

RETRY_BACKOFF_MAX = 60
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


@dataclass(frozen=True)
class ClusterOptions:
    """Where the broker is and how tasks behave; the same on the coordinator and workers."""

    broker_url: str
    name: str = "docfactory"
    time_limit: int = 600
    retries: int = 3
    result_expires: int = 24 * 3600
    #: Seconds of a worker's time the coordinator aims to put in one task (records per task
    #: from the measured render rate); 0: tasks keep the run's chunk size.
    task_seconds: float = 3.0

    @property
    def queue(self) -> str:
        return self.name

    @property
    def key_prefix(self) -> str:
        return f"{self.name}:"

    @property
    def hard_time_limit(self) -> int:
        return self.time_limit + 30

    @property
    def visibility_timeout(self) -> int:
        """A delivered, unacknowledged task is given back after this long (a node died).

        A task may wait behind one running task before its own run and its retries' countdown.
        """
        return 2 * self.hard_time_limit + RETRY_BACKOFF_MAX + 60

    def check(self) -> ClusterOptions:
        from factory.archive.index import DEFAULT_LEASE  # SQLAlchemy: not at CLI start-up

        if not self.broker_url.startswith(("redis://", "rediss://", "unix://")):
            raise ConfigError("broker URL must be a Redis URL (redis://host:6379/0); set"
                              " FACTORY_BROKER_URL")
        if not _NAME.match(self.name):
            raise ConfigError(f"cluster name {self.name!r}: use letters, digits, '-', '_', '.'")
        if self.time_limit < 1 or timedelta(seconds=self.hard_time_limit) >= DEFAULT_LEASE:
            raise ConfigError(
                f"task time limit {self.time_limit} s must be positive and, with its 30 s of"
                f" grace, shorter than the claim lease ({int(DEFAULT_LEASE.total_seconds())} s)")
        if self.task_seconds < 0:
            raise ConfigError("FACTORY_TASK_SECONDS must be 0 (fixed chunk size) or more")
        return self


__all__ = ["RETRY_BACKOFF_MAX", "ClusterOptions"]
