"""What a worker needs to know about a run: a small, picklable value.

Takes nothing; gives `WorkerConfig`. Executors send it once per worker process (local pool) or
with every task (Celery); the worker builds everything heavy from it itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from factory.config import Settings
from factory.jobs import JobSpec, load_job
from factory.jobs.spec import parse_job_text

#: The channel of the archived PDF document; email, SMS and print: see `factory.models.Channel`.
CHANNEL = "pdf"


_ALIASES = ("email", "sms", "peppol")


@dataclass(frozen=True)
class WorkerConfig:
    """Identifies the run and where its job, templates, store, index and transports are.

    ``transports`` maps a channel name to its resolved transport URL (they may hold
    credentials: they travel to the workers like ``index_url`` and are never logged);
    ``email_url``, ``sms_url`` and ``peppol_url`` are the older names of three of its entries,
    kept as aliases (given, they fill ``transports``; read, they show it). ``resend_unknown`` lets a
    run send again the messages a crash left in doubt (see `factory.pipeline.delivery`).
    ``force`` renders archived records again as new revisions; ``actor`` (``cli:<user>`` or
    ``key:<id>``, with ``actor_role``) and ``force_reason`` are recorded on every revision it
    supersedes. ``attempts`` and ``backoff`` are the retry policy of a channel's retryable
    errors (`factory.pipeline.retry`): tries in all, and the first wait in seconds."""

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
    backoff: float = 0.2
    email_url: str | None = None
    sms_url: str | None = None
    resend_unknown: bool = False
    peppol_url: str | None = None
    force_reason: str = ""
    actor: str = "system"
    actor_role: str = "system"
    #: The job file's text as the coordinator validated it (None: read ``job_path``).
    job_text: str | None = None
    transports: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        merged = {name: url for name, url in (("email", self.email_url), ("sms", self.sms_url),
                                              ("peppol", self.peppol_url)) if url}
        merged.update(self.transports)
        object.__setattr__(self, "transports", merged)
        for name in _ALIASES:
            object.__setattr__(self, f"{name}_url", merged.get(name))

    def transport_url(self, channel: str) -> str | None:
        return self.transports.get(channel)

    def load_job(self) -> JobSpec:
        """The run's job: parsed from the text the coordinator validated, so an edit of the
        file during the run changes nothing; relative paths in it resolve at ``job_path``."""
        if self.job_text is not None:
            return parse_job_text(self.job_text, Path(self.job_path))
        return load_job(Path(self.job_path))
