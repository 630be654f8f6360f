"""S3 errors in our terms: boto3 and botocore errors translated at the adapter edge.

Takes a botocore exception and where it happened; gives our error (`RetryableArchiveError` for
throttling, timeouts and 5xx, `IntegrityError` for a checksum refused or mismatched,
`ConfigError` for a missing bucket or credentials, else `ArchiveError`). `translated` does it
for a block; `Missing` is what it raises for a 404 the caller asked to see; `not_implemented`
and `no_hold_yet` recognise answers that are facts, not failures (an API the server does not
implement; an object never put on legal hold).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    FlexibleChecksumError,
    NoCredentialsError,
    PartialCredentialsError,
    ReadTimeoutError,
)

from factory.errors import ArchiveError, ConfigError, IntegrityError, RetryableArchiveError

_RETRYABLE = {"SlowDown", "Throttling", "ThrottlingException", "RequestTimeout",
              "RequestTimeoutException", "InternalError", "ServiceUnavailable",
              "OperationAborted", "RequestLimitExceeded", "500", "502", "503", "504"}
_CHECKSUM = {"BadDigest", "InvalidDigest", "XAmzContentSHA256Mismatch", "InvalidChecksum"}
_MISSING = {"NoSuchKey", "404", "NotFound"}


def not_implemented(exc: Exception) -> bool:
    """An S3 server's answer for an API it does not implement."""
    if not isinstance(exc, ClientError):
        return False
    code = str(exc.response.get("Error", {}).get("Code", ""))
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return code in ("NotImplemented", "MethodNotAllowed", "XNotImplemented") or \
        status in (501, 405)


def no_hold_yet(exc: Exception) -> bool:
    """GetObjectLegalHold's answer for an object that was never held."""
    return isinstance(exc, ClientError) and \
        exc.response.get("Error", {}).get("Code") == "NoSuchObjectLockConfiguration"


class Missing(Exception):
    """Internal: the object or configuration asked for does not exist."""


class translated:
    """Translate boto3/botocore errors raised inside the block into our error tree."""

    def __init__(self, where: str, missing: str | None = None,
                 missing_error: type[Exception] = ArchiveError,
                 passthrough: Callable[[Exception], bool] | None = None) -> None:
        self.where = where
        self.missing = missing
        self.missing_error = missing_error
        self.passthrough = passthrough

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, exc: Any, tb: Any) -> Literal[False]:
        if exc is None or not isinstance(exc, BotoCoreError | ClientError):
            return False
        if self.passthrough is not None and self.passthrough(exc):
            return False  # the caller handles this one itself
        raise translate(exc, self.where, self.missing, self.missing_error) from None


def translate(exc: Exception, where: str, missing: str | None = None,
              missing_error: type[Exception] = ArchiveError) -> Exception:
    """Our error for a boto3/botocore error (``missing`` names a 404; "" means "not found")."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        message = error.get("Message") or code
        if missing is not None and (code in _MISSING or status == 404) and \
                code != "NoSuchBucket":
            return Missing() if missing == "" else missing_error(missing)
        if code == "NoSuchBucket":
            return ConfigError(f"{where}: the bucket does not exist")
        if code in _CHECKSUM:
            return IntegrityError(f"{where}: the server refused the checksum ({code}: {message})")
        if code in _RETRYABLE or (isinstance(status, int) and status >= 500):
            return RetryableArchiveError(f"{where}: {code}: {message}")
        return ArchiveError(f"{where}: {code}: {message}")
    if isinstance(exc, FlexibleChecksumError):
        return IntegrityError(f"{where}: {exc}")
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return ConfigError(f"{where}: no usable AWS credentials ({exc}); set them in the"
                           " environment, the shared AWS files or an instance role")
    if isinstance(exc, EndpointConnectionError | ConnectTimeoutError | ReadTimeoutError |
                  ConnectionClosedError):
        return RetryableArchiveError(f"{where}: {exc}")
    return ArchiveError(f"{where}: {exc}")
