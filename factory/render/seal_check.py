"""Check the seals of a PDF: is it sealed, intact, by whom, since when, and unchanged since.

Takes PDF bytes and trust anchors (asn1crypto certificates; none means the signer's chain is
not judged, only the cryptography and the coverage); gives a `SealStatus`. Every signature and
document timestamp in the file is validated offline with pyHanko (nothing is fetched: a B-LT or
B-LTA document carries what it needs, a B-B/B-T one is checked without revocation data). A seal
whose bytes were changed is **broken**; a document that had anything but a document timestamp
or validation data (DSS) appended after its seal was **modified after sealing**. Used by
``archive verify``, the document page's "verify now" and ``archive reseal``.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from factory.errors import IntegrityError

# pyHanko logs a traceback for every modification it finds; the finding is in `SealStatus`.
for _logger in ("pyhanko", "pyhanko_certvalidator"):
    logging.getLogger(_logger).setLevel(logging.CRITICAL)


@dataclass
class SealStatus:
    sealed: bool
    profile: str | None = None  # B-B | B-T | B-LT | B-LTA
    signer: str | None = None
    signed_at: datetime | None = None  # the time the signer claims
    timestamp: datetime | None = None  # the TSA's time of the seal (B-T and up)
    tsa: str | None = None
    #: When the newest timestamp's TSA certificate ends: a reseal must come before then.
    timestamp_valid_until: datetime | None = None
    document_timestamps: int = 0
    trusted: bool | None = None  # None: no trust anchors were configured
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def describe(self) -> str:
        if not self.sealed:
            return "not sealed"
        head = f"{self.profile} seal by {self.signer}"
        when = f", timestamped {self.timestamp:%Y-%m-%d %H:%M:%S} UTC by {self.tsa}" \
            if self.timestamp else ""
        state = "; ".join(self.problems) if self.problems else "intact"
        return f"{head}{when}: {state}"

    def as_dict(self) -> dict[str, Any]:
        def iso(value: datetime | None) -> str | None:
            return value.isoformat() if value else None

        return {"sealed": self.sealed, "ok": self.ok, "profile": self.profile,
                "signer": self.signer, "signed_at": iso(self.signed_at),
                "timestamp": iso(self.timestamp), "tsa": self.tsa,
                "timestamp_valid_until": iso(self.timestamp_valid_until),
                "document_timestamps": self.document_timestamps, "trusted": self.trusted,
                "problems": list(self.problems), "notes": list(self.notes)}


def check_seal(data: bytes, trust: list[Any] | None = None) -> SealStatus:
    """The status of every seal in ``data`` (`IntegrityError` if it is not a readable PDF)."""
    from pyhanko.pdf_utils.misc import PdfReadError
    from pyhanko.pdf_utils.reader import PdfFileReader

    try:
        reader = PdfFileReader(io.BytesIO(data), strict=False)
        signatures = list(reader.embedded_regular_signatures)
        stamps = list(reader.embedded_timestamp_signatures)
    except (PdfReadError, ValueError, KeyError) as exc:
        raise IntegrityError(f"not a readable PDF: {exc}") from None
    if not signatures:
        return SealStatus(sealed=False)
    status = SealStatus(sealed=True, trusted=None if not trust else True,
                        document_timestamps=len(stamps))
    context = _context(trust)
    for signature in signatures:
        _check_signature(signature, context, bool(trust), status)
    for stamp in stamps:
        _check_document_timestamp(stamp, context, bool(trust), status)
    status.profile = _profile(reader, status)
    return status


def _context(trust: list[Any] | None) -> Any:
    from pyhanko_certvalidator import ValidationContext

    return ValidationContext(trust_roots=list(trust or []), allow_fetching=False,
                             revocation_mode="soft-fail")


def _check_signature(signature: Any, context: Any, judged: bool, status: SealStatus) -> None:
    from pyhanko.sign.validation import validate_pdf_signature

    result = validate_pdf_signature(signature, signer_validation_context=context,
                                    ts_validation_context=context)
    status.signer = _name(result.signing_cert)
    status.signed_at = result.signer_reported_dt
    if not result.intact:
        status.problems.append("seal broken: the sealed bytes were changed (their digest no"
                               " longer matches the seal)")
    elif not result.valid:
        status.problems.append("seal broken: the signature does not verify with the"
                               " signer's key")
    _coverage(result, status)
    if judged and not result.trusted:
        status.trusted = False
        status.problems.append(f"the seal's certificate ({status.signer}) does not chain to"
                               " a configured trust anchor")
    ts = result.timestamp_validity
    if ts is not None:
        status.timestamp = ts.timestamp
        status.tsa = _name(ts.signing_cert)
        status.timestamp_valid_until = ts.signing_cert.not_valid_after
        if not (ts.intact and ts.valid):
            status.problems.append("the seal's timestamp token does not verify")
        elif judged and not ts.trusted:
            status.trusted = False
            status.problems.append(f"the timestamp's TSA ({status.tsa}) does not chain to a"
                                   " configured trust anchor")


def _check_document_timestamp(stamp: Any, context: Any, judged: bool,
                              status: SealStatus) -> None:
    from pyhanko.sign.validation import validate_pdf_timestamp

    result = validate_pdf_timestamp(stamp, validation_context=context)
    if not (result.intact and result.valid):
        status.problems.append("a document timestamp (B-LTA) does not verify")
    elif judged and not result.trusted:
        status.trusted = False
        status.problems.append("a document timestamp's TSA does not chain to a configured"
                               " trust anchor")
    _coverage(result, status)
    until = result.signing_cert.not_valid_after
    if status.timestamp_valid_until is None or until > status.timestamp_valid_until:
        status.timestamp_valid_until = until


def _coverage(result: Any, status: SealStatus) -> None:
    """Only validation data and document timestamps may follow a seal (PAdES B-LT/B-LTA)."""
    from pyhanko.sign.diff_analysis import ModificationLevel
    from pyhanko.sign.validation.status import SignatureCoverageLevel

    if result.coverage == SignatureCoverageLevel.ENTIRE_FILE:
        return
    level = result.modification_level
    if result.coverage != SignatureCoverageLevel.ENTIRE_REVISION or level is None or \
            level not in (ModificationLevel.NONE, ModificationLevel.LTA_UPDATES):
        name = level.name.lower().replace("_", " ") if level is not None else "unknown"
        problem = f"modified after sealing: a later revision changes the document ({name})"
        if problem not in status.problems:
            status.problems.append(problem)


def _name(cert: Any) -> str:
    """A certificate's common name (and organisation), else its whole subject."""
    subject = cert.subject.native
    name = subject.get("common_name")
    if not name:
        return str(cert.subject.human_friendly)
    org = subject.get("organization_name")
    return f"{name} ({org})" if org and org not in name else name


def _profile(reader: Any, status: SealStatus) -> str:
    if status.document_timestamps:
        return "B-LTA"
    dss = reader.root.get("/DSS")
    if dss is not None:
        return "B-LT"
    return "B-T" if status.timestamp is not None else "B-B"
