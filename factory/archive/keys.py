"""Deterministic names: document ids and storage keys.

Takes a job, period, record key, document type, channel and revision; gives the document id
(a UUID5, the same for the same inputs on every machine), the storage key
``<job>/<period>/<record key>/<document id>.<attempt>.<ext>`` (``attempt``: a name unique to
the claim that writes it, so two attempts at the same revision, a stale one and a live one,
never write the same object: only the attempt whose claim completes becomes the document), and
the idempotency key of a send (`delivery_key`, a UUID5 without the revision: a message is sent
once, whatever is re-rendered).

`SlotKey` names the five parts of one slot (at most one current document per slot) by keyword,
so they cannot be passed in the wrong order; its methods give the slot's document ids, storage
keys and idempotency key. Prefer it to the positional functions below.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

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


@dataclass(frozen=True, slots=True, kw_only=True)
class SlotKey:
    """The identity of one slot: ``SlotKey(job=, period=, record_key=, document_type=,
    channel=)``, keywords only. `factory.archive.slots` opens it for writing."""

    job: str
    period: str
    record_key: str
    document_type: str
    channel: str

    def document_id(self, revision: int = 1) -> str:
        return document_id(self.job, self.period, self.record_key, self.document_type,
                           self.channel, revision)

    def delivery_key(self) -> str:
        """The idempotency key of the slot's send (the same for every attempt and revision)."""
        return delivery_key(self.job, self.period, self.record_key, self.document_type,
                            self.channel)

    def storage_key(self, doc_id: str, extension: str, attempt: str) -> str:
        """Where ``attempt`` writes document ``doc_id`` of this slot (see `document_key`)."""
        return document_key(self.job, self.period, self.record_key, doc_id, extension,
                            attempt)

    def prefix(self) -> str:
        """The store prefix every object of the slot's record lies under."""
        return f"{self.job}/{self.period}/{self.record_key}/"

    def with_channel(self, channel: str) -> SlotKey:
        return SlotKey(job=self.job, period=self.period, record_key=self.record_key,
                       document_type=self.document_type, channel=channel)


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
