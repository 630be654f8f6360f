"""What a worker needs to know about a run: a small, picklable value.

Takes nothing; gives `WorkerConfig`. Executors send it once per worker process (local pool) or
with every task (Celery); the worker builds everything heavy from it itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

from factory.config import Settings
from factory.jobs import JobSpec, load_job
from factory.jobs.spec import parse_job_text

#: The channel of the archived PDF document; email, SMS and print: see `factory.models.Channel`.
CHANNEL = "pdf"


@dataclass(frozen=True)
class WorkerConfig:
    """Identifies the run and where its job, templates, store, index and transports are.

    ``email_url`` / ``sms_url`` are resolved transport URLs (they may hold credentials: they
    travel to the workers like ``index_url`` and are never logged). ``resend_unknown`` lets a
    run send again the messages a crash left in doubt (see `factory.pipeline.delivery`).
    ``force`` renders archived records again as new revisions; ``actor`` (``cli:<user>`` or
    ``key:<id>``, with ``actor_role``) and ``force_reason`` are recorded on every revision it
    supersedes."""

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
    force_reason: str = ""
    actor: str = "system"
    actor_role: str = "system"
    #: The job file's text as the coordinator validated it (None: read ``job_path``).
    job_text: str | None = None

    def load_job(self) -> JobSpec:
        """The run's job: parsed from the text the coordinator validated, so an edit of the
        file during the run changes nothing; relative paths in it resolve at ``job_path``."""
        if self.job_text is not None:
            return parse_job_text(self.job_text, Path(self.job_path))
        return load_job(Path(self.job_path))
