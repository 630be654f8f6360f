"""Deterministic names: document ids and storage keys.

Takes a job, period, record key, document type, channel and revision; gives the document id
(a UUID5, the same for the same inputs on every machine), the storage key
``<job>/<period>/<record key>/<document id>.<attempt>.<ext>`` (``attempt``: a name unique to
the claim that writes it, so two attempts at the same revision, a stale one and a live one,
never write the same object: only the attempt whose claim completes becomes the document), and
the idempotency key of a send (`delivery_key`, a UUID5 without the revision: a message is sent
once, whatever is re-rendered).
"""

from __future__ import annotations

import re
import uuid

from factory.errors import ArchiveError

NAMESPACE = uuid.UUID("6f1c2f4e-8d0a-5b7e-9a51-0d0c5f6a7b8c")
_SAFE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def document_id(job: str, period: str, record_key: str, document_type: str, channel: str,
                revision: int = 1) -> str:
    name = f"{job}|{period}|{record_key}|{document_type}|{channel}|{revision}"
    return str(uuid.uuid5(NAMESPACE, name))


def delivery_key(job: str, period: str, record_key: str, document_type: str,
                 channel: str) -> str:
    """The idempotency key of one send: the same for every attempt, rerun and revision."""
    return str(uuid.uuid5(NAMESPACE, f"delivery|{job}|{period}|{record_key}|{document_type}"
                                     f"|{channel}"))


def document_key(job: str, period: str, record_key: str, doc_id: str, extension: str,
                 attempt: str) -> str:
    for label, part in (("job", job), ("period", period), ("record key", record_key),
                        ("document id", doc_id), ("extension", extension),
                        ("attempt", attempt)):
        if not _SAFE.match(part):
            raise ArchiveError(f"{label} {part!r} cannot be used in a storage key")
    return f"{job}/{period}/{record_key}/{doc_id}.{attempt}.{extension}"


def record_snapshot_key(storage_key: str) -> str:
    """Where the validated record behind a document is kept, beside the document."""
    stem = storage_key.rsplit(".", 1)[0]
    return f"{stem}.record.json"


def template_snapshot_key(version: str) -> str:
    if not re.fullmatch(r"[0-9a-f]{64}", version):
        raise ArchiveError(f"template version {version!r} is not a SHA-256")
    return f"_template-sets/{version}.zip"


def check_key(key: str) -> str:
    """Refuse keys that could escape a folder or confuse an object store."""
    if not key or key.startswith("/") or "\\" in key or "\0" in key:
        raise ArchiveError(f"invalid storage key {key!r}")
    parts = key.split("/")
    if any(part in ("", ".", "..") for part in parts):
        raise ArchiveError(f"invalid storage key {key!r}")
    return key
