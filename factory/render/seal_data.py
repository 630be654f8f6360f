"""Seal arbitrary bytes (an export bundle's manifest) so that OpenSSL alone can check them.

Takes the ``[factory.export_seal]`` table of ``docfactory.toml`` (the same keys as a job's
``[seal]``: key, password_env, profile B-B or B-T, tsa_url) and the ``FACTORY_SEAL_*`` secrets;
gives `DataSealer`, whose ``sign`` returns a detached CMS signature (DER; check it with
``openssl cms -verify -binary -inform DER -in X.p7s -content X -CAfile root.pem``) and whose
``timestamp`` returns an RFC 3161 token over the bytes (``openssl ts -verify -data X -in X.tst
-token_in -CAfile root.pem``). The key is loaded the same way as for sealing PDFs.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from factory.errors import ConfigError, RetryableSealError, SealError
from factory.jobs.seal import SealSpec
from factory.render.seal import certificate_problems, load_signer


class DataSealer:
    """A loaded key (and TSA client for B-T) that signs and timestamps bytes."""

    def __init__(self, spec: SealSpec, secrets: Mapping[str, str], root: Path) -> None:
        from pyhanko.sign.timestamps import HTTPTimeStamper

        self.spec = spec
        self.signer = load_signer(spec, secrets, root)
        self.timestamper = (HTTPTimeStamper(spec.tsa_url, timeout=spec.timeout)
                            if spec.profile != "B-B" and spec.tsa_url else None)

    @property
    def signer_name(self) -> str:
        return str(self.signer.signing_cert.subject.human_friendly)

    def sign(self, data: bytes) -> bytes:
        """A detached CMS SignedData over ``data`` (DER), with the signer's certificates."""
        from datetime import UTC, datetime

        problems, _notes = certificate_problems(self.signer.signing_cert, datetime.now(UTC),
                                                "export_seal.key")
        if problems:
            raise ConfigError(problems[0])
        try:
            signed = asyncio.run(self.signer.async_sign_general_data(data, "sha256",
                                                                     detached=True))
        except (ValueError, TypeError) as exc:
            raise SealError(f"signing the manifest failed: {exc}") from None
        return bytes(signed.dump())

    def timestamp(self, data: bytes) -> bytes | None:
        """An RFC 3161 timestamp token over SHA-256(``data``) (DER), or None for B-B."""
        if self.timestamper is None:
            return None
        from pyhanko.sign.timestamps.common_utils import TimestampRequestError

        digest = hashlib.sha256(data).digest()
        try:
            token = asyncio.run(self.timestamper.async_timestamp(digest, "sha256"))
        except (TimestampRequestError, OSError) as exc:
            raise RetryableSealError(f"the time-stamping authority {self.spec.tsa_url} did not"
                                     f" answer: {exc}; nothing written") from None
        return bytes(token.dump())


def export_sealer(settings: Any) -> DataSealer | None:
    """The sealer of ``[factory.export_seal]``, or None when export bundles are not sealed."""
    raw = getattr(settings, "export_seal", None)
    if not raw:
        return None
    try:
        spec = SealSpec.model_validate(dict(raw))
    except ValidationError as exc:
        from factory.jobs.spec import describe_errors

        lines = [f"export_seal.{line}" for line in describe_errors(exc, raw)]
        raise ConfigError("docfactory.toml: invalid [factory.export_seal]", lines) from None
    return DataSealer(spec, settings.seal_secrets, settings.root)
