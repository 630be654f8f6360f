"""Who is told about a job's runs: a webhook and/or the owners' e-mail.

Takes the ``[notify]`` table of a job file::

    [notify]
    webhook = "https://ops.example.com/hooks/docfactory"   # JSON summary, HMAC-SHA256 signed
    secret_env = "FACTORY_NOTIFY_SECRET"    # the environment variable holding the HMAC key
    email = ["ops@example.com"]             # the job's owners
    transport = "smtp://mail.example.com:587"   # default: FACTORY_NOTIFY_SMTP_URL
    sender = "docfactory@example.com"
    on = ["completed", "problems", "failed", "interrupted", "stalled"]
    stalled_minutes = 30                    # no progress for this long: "stalled"
    link = "https://factory.example.com"    # the web service, for a link to the run page

gives a validated `NotifySpec`. No secret is ever written in the job file: the HMAC key comes
from ``secret_env``, the SMTP password from the transport URL in the environment.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Event = Literal["completed", "problems", "failed", "interrupted", "stalled"]
EVENTS: tuple[Event, ...] = ("completed", "problems", "failed", "interrupted", "stalled")


class NotifySpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    webhook: str | None = Field(default=None, pattern=r"^https?://")
    secret_env: str = Field(default="FACTORY_NOTIFY_SECRET", pattern=r"^[A-Z][A-Z0-9_]*$")
    email: list[str] = Field(default_factory=list)
    transport: str | None = Field(default=None, pattern=r"^smtps?://")
    sender: str = "docfactory@localhost"
    on: list[Event] = Field(default_factory=lambda: list(EVENTS), min_length=1)
    stalled_minutes: float = Field(default=30, gt=0)
    link: str | None = Field(default=None, pattern=r"^https?://")

    @model_validator(mode="after")
    def _somewhere(self) -> NotifySpec:
        if not self.webhook and not self.email:
            raise ValueError("give a webhook, an email list of owners, or both")
        return self
