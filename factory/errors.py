"""One exception tree for the whole factory.

Takes nothing, gives the exception types every layer raises. Vendor errors (boto3, SQLAlchemy,
WeasyPrint, smtplib) are translated into these at the adapter edge, so the runner decides what
to do on our types only::

    FactoryError
    ├── ConfigError                  a job file, template set, brand or setting is wrong (exit 2)
    │   └── InputError               an argument is malformed: an id, a date, a reversed range
    │       └── LimitExceededError   a request would exceed a configured limit (export size)
    ├── NotFoundError                an id (document, run, key) that the index does not know
    ├── AccessError                  a caller may not do this
    │   ├── AuthenticationError      no valid API key (HTTP 401)
    │   └── PermissionDeniedError    a valid key whose role does not allow it (HTTP 403)
    ├── SourceError                  an input cannot be read at all (file missing, empty, no header)
    ├── RecordError                  one input record is unusable: it is rejected, the batch goes on
    ├── RenderError                  one record could not be rendered (permanent for that record)
    │   ├── TemplateError            the template raised, or referenced a missing field
    │   ├── ResourceBlockedError     a template or a field tried to load a forbidden resource
    │   └── SealError                the PDF could not be sealed (RetryableSealError: TSA down)
    ├── ArchiveError                 the store or the index failed
    │   ├── NoSpaceError             no space left on a device: stops the run (``stops_run``)
    │   ├── IntegrityError           stored bytes do not match their recorded SHA-256
    │   ├── LegalHoldError           a document on legal hold cannot be deleted or replaced
    │   └── FencedError              a stale run or attempt: a newer run holds this work
    ├── DeliveryError                a transport refused or failed a send
    │   └── PermanentDeliveryError   the transport said no for good (SMTP 5xx, HTTP 4xx)
    └── ReconciliationError          a run's counts do not balance

Any error may be retryable (``exc.retryable``): `RetryableError` is a mixin that marks it, and
``Retryable*`` subclasses exist for the errors that are usually transient.
"""

from __future__ import annotations


class FactoryError(Exception):
    """Base of every error the factory raises on purpose."""

    retryable: bool = False
    #: True: the condition holds for every record after this one too (a full disk), so the
    #: run stops, reported as interrupted with the reason, instead of failing record after
    #: record; the same command resumes once the condition is gone.
    stops_run: bool = False


class RetryableError(FactoryError):
    """Mixin: the same operation may succeed if tried again later."""

    retryable = True


class ConfigError(FactoryError):
    """A job file, a template set, a brand or a setting is invalid.

    ``problems`` holds one line per problem, each naming the file and the field.
    """

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        self.problems = list(problems or [])
        text = message if not self.problems else message + "\n" + "\n".join(
            f"  - {p}" for p in self.problems
        )
        super().__init__(text)


class InputError(ConfigError):
    """An argument or query parameter is malformed: an id, a date, a reversed range."""


class LimitExceededError(InputError):
    """A request would exceed a configured limit (an export larger than allowed)."""


class NotFoundError(FactoryError):
    """An id (document, run, API key) that the index does not know."""


class AccessError(FactoryError):
    """The caller may not do this."""


class AuthenticationError(AccessError):
    """No API key, or one that is unknown, malformed or revoked."""


class PermissionDeniedError(AccessError):
    """A valid API key whose role does not allow the operation."""


class SourceError(FactoryError):
    """An input source cannot be read at all (missing file, empty file, missing column)."""


class RecordError(FactoryError):
    """One input record is unusable; it is rejected with ``field`` and ``reason``."""

    def __init__(self, reason: str, field: str | None = None) -> None:
        self.reason = reason
        self.field = field
        super().__init__(f"{field}: {reason}" if field else reason)


class RenderError(FactoryError):
    """A record could not be rendered."""


class TemplateError(RenderError):
    """The template raised an error or referenced an undefined field."""


class ResourceBlockedError(RenderError):
    """A template or a data field tried to load a resource outside the allowed folders."""


class SealError(RenderError):
    """The PDF could not be sealed (key unusable, signing failed)."""


class RetryableSealError(SealError, RetryableError):
    """Sealing failed on a server that may come back: the TSA, an OCSP responder, a CRL."""


class ArchiveError(FactoryError):
    """The store or the index failed."""


class NoSpaceError(ArchiveError):
    """No space left on the device under the archive, the index or the run's files."""

    stops_run = True


def is_no_space(exc: BaseException) -> bool:
    """An `OSError` (or a database error's text) that says the disk is full."""
    import errno

    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    text = str(exc)
    return "database or disk is full" in text or "No space left on device" in text


class LegalHoldError(ArchiveError):
    """A document on legal hold cannot be deleted or replaced until it is released."""


class FencedError(ArchiveError):
    """This run is no longer live (a newer run of the same job and period took over), or a
    newer run holds the record's claim: this attempt must stop without writing anything."""


class RetryableArchiveError(ArchiveError, RetryableError):
    """The store or the index failed in a way that may pass (timeout, lock, throttling)."""


class IntegrityError(ArchiveError):
    """Stored bytes do not match the SHA-256 recorded for them."""


class DeliveryError(FactoryError):
    """A transport failed a send."""


class RetryableDeliveryError(DeliveryError, RetryableError):
    """A transport failed a send in a way that may pass (4xx SMTP, 5xx HTTP, timeout)."""


class PermanentDeliveryError(DeliveryError):
    """A transport refused a send for good (5xx SMTP, 4xx HTTP)."""


class ReconciliationError(FactoryError):
    """A run's counts do not balance: input != archived + rejected + failed + skipped."""


__all__ = [
    "AccessError",
    "ArchiveError",
    "AuthenticationError",
    "ConfigError",
    "DeliveryError",
    "FactoryError",
    "InputError",
    "IntegrityError",
    "LegalHoldError",
    "LimitExceededError",
    "NotFoundError",
    "PermanentDeliveryError",
    "PermissionDeniedError",
    "ReconciliationError",
    "RecordError",
    "RenderError",
    "ResourceBlockedError",
    "RetryableArchiveError",
    "RetryableDeliveryError",
    "RetryableError",
    "SourceError",
    "TemplateError",
]
