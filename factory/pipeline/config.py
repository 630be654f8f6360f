"""What a worker needs to know about a run: a small, picklable value.

Takes nothing; gives `WorkerConfig`. Executors send it once per worker process (local pool) or
with every task (Celery); the worker builds everything heavy from it itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from factory.config import Settings

#: The channel of the archived PDF document; email, SMS and print: see `factory.models.Channel`.
CHANNEL = "pdf"


@dataclass(frozen=True)
class WorkerConfig:
    """Identifies the run and where its job, templates, store, index and transports are.

    ``email_url`` / ``sms_url`` are resolved transport URLs (they may hold credentials: they
    travel to the workers like ``index_url`` and are never logged). ``resend_unknown`` lets a
    run send again the messages a crash left in doubt (see `factory.pipeline.delivery`)."""

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
    email_url: str | None = None
    sms_url: str | None = None
    resend_unknown: bool = False
    peppol_url: str | None = None
