"""What a worker needs to know about a run: a small, picklable value.

Takes nothing; gives `WorkerConfig`. Executors send it once per worker process (local pool) or
with every task (Celery); the worker builds everything heavy from it itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from factory.config import Settings

#: The channel of the archived PDF document (email and SMS arrive with issue #3).
CHANNEL = "pdf"


@dataclass(frozen=True)
class WorkerConfig:
    """Identifies the run and where its job, templates, store and index are."""

    job_path: str
    settings: Settings
    run_id: str
    period: str
    issued: date
    store_url: str
    index_url: str
    template_version: str
    force: bool = False
    attempts: int = 3
