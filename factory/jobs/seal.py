"""How a job's archived PDFs are sealed: the ``[seal]`` section of a job file, or of a
retention class in ``docfactory.toml`` (``[factory.seal.<class>]``).

Takes the job file's section, or the settings' raw per-class tables; gives a validated, frozen
`SealSpec`, and `seal_for` picks the one that applies to a job (the job's own section wins over
its retention class's). Nothing here holds a secret: the key's password is named by
``password_env`` (an environment variable ``FACTORY_SEAL_*`` read by the edges into
``Settings.seal_secrets``), never written in a file.

Profiles (ETSI EN 319 142-1, PAdES baseline): ``B-B`` (the seal alone), ``B-T`` (plus an RFC 3161
signature timestamp from ``tsa_url``), ``B-LT`` (plus the certificates and revocation data needed
to validate it offline, fetched at sealing time and embedded in the document's DSS).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from factory.config import Settings
from factory.errors import ConfigError

if TYPE_CHECKING:  # spec.py imports this module
    from factory.jobs.spec import JobSpec

SealProfile = Literal["B-B", "B-T", "B-LT"]


class SealSpec(BaseModel):
    """One seal configuration."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    profile: SealProfile = "B-T"
    #: The organisation's key and certificate: a PKCS#12 file (a path relative to the project
    #: root, or a ``file://`` URL) or a key on a PKCS#11 token, as an RFC 7512 URI
    #: (``pkcs11:token=<label>;object=<key label>?module-path=<PKCS#11 library>``).
    key: str = Field(min_length=1)
    #: The environment variable holding the PKCS#12 password or the token's PIN.
    password_env: str = Field(default="FACTORY_SEAL_PASSWORD",
                              pattern=r"^FACTORY_SEAL_[A-Z0-9_]{1,60}$")
    #: The RFC 3161 time-stamping authority (B-T, B-LT); http(s) only.
    tsa_url: str | None = Field(default=None, pattern=r"^https?://\S+$")
    #: Trust anchors (PEM or DER files) used to collect revocation data for B-LT.
    trust: list[str] = Field(default_factory=list)
    reason: str = Field(default="Issued and sealed by its issuer; any change breaks this seal",
                        max_length=200)
    location: str | None = Field(default=None, max_length=200)
    #: Seconds to wait for the TSA (and OCSP/CRL servers for B-LT).
    timeout: float = Field(default=10.0, gt=0, le=120)

    @model_validator(mode="after")
    def _needs_tsa(self) -> SealSpec:
        if self.profile != "B-B" and not self.tsa_url:
            raise ValueError(f"profile {self.profile} needs tsa_url (an RFC 3161 TSA)")
        if self.profile == "B-LT" and not self.trust:
            raise ValueError("profile B-LT needs trust (the root certificate(s) to collect"
                             " revocation data up to)")
        return self

    @property
    def pkcs11(self) -> bool:
        return self.key.startswith("pkcs11:")


def seal_for(job: JobSpec, settings: Settings) -> SealSpec | None:
    """The seal that applies to ``job``: its ``[seal]``, else its retention class's, else None."""
    if job.seal is not None:
        return job.seal
    raw = settings.seal.get(job.retention_class)
    if raw is None:
        return None
    try:
        return SealSpec.model_validate(dict(raw))
    except ValidationError as exc:
        from factory.jobs.spec import describe_errors

        lines = [f"seal.{job.retention_class}.{line}" for line in describe_errors(exc, raw)]
        raise ConfigError("docfactory.toml: invalid [factory.seal] section", lines) from None
