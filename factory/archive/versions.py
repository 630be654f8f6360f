"""Template-set versions in the archive: kept, approved, listed, found by prefix.

Takes an open `SqlIndex` (and a `Store` to keep snapshots); gives:

- `keep_version`: the deterministic zip of a `TemplateSet` stored at
  ``_template-sets/<version>.zip`` (once) and registered in ``template_versions``, so the version
  can be rendered again (runs call it at start, approvals call it too);
- `approve`, `approval_of`, `last_approval`: the ``approvals`` table (who approved which
  version of a template set, when, with a note); approving twice is idempotent;
- `list_versions`: every version the index knows, with its approval and how many documents it
  produced;
- `match_versions`: versions whose hash starts with a prefix (to resolve ``--against abc123``).

Database errors surface as `ArchiveError` through the index's own translating connections.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError

from factory.archive.index import SqlIndex
from factory.archive.keys import template_snapshot_key
from factory.archive.store import Store, sha256_of
from factory.archive.tables import approvals, documents, template_versions
from factory.errors import ConfigError
from factory.templates.templateset import TemplateSet

SNAPSHOT_MEDIA_TYPE = "application/zip"


@dataclass(frozen=True, slots=True)
class Approval:
    """One approval: ``version`` of ``template_set`` may go to production."""

    template_set: str
    version: str
    approved_by: str
    approved_at: datetime
    note: str = ""


@dataclass(frozen=True, slots=True)
class VersionInfo:
    """A template-set version the index knows, and what became of it."""

    version: str
    template_set: str
    brand: str
    storage_key: str
    first_used_at: datetime
    documents: int
    last_document_at: datetime | None
    approval: Approval | None


def keep_version(store: Store, index: SqlIndex, template_set: TemplateSet) -> str:
    """Store ``template_set``'s snapshot (if absent) and register its version; return it."""
    version = template_set.version
    key = template_snapshot_key(version)
    if index.template_version(version) is None or not store.exists(key):
        if not store.exists(key):  # stored once: its contents hash to the version (verify)
            data = template_set.snapshot()
            store.put(key, data, media_type=SNAPSHOT_MEDIA_TYPE, sha256=sha256_of(data))
        index.remember_template_version(version, template_set.name, template_set.brand, key)
    return version


def approve(index: SqlIndex, template_set: str, version: str, approved_by: str,
            note: str = "", at: datetime | None = None) -> tuple[Approval, bool]:
    """Record that ``version`` of ``template_set`` is approved; (approval, True if new).

    Approving an approved version changes nothing and returns the first approval.
    """
    if not approved_by.strip():
        raise ConfigError("an approval needs the name of who approves (--by NAME)")
    moment = at or datetime.now(UTC)
    with index.begin() as connection:
        known = connection.execute(select(approvals).where(
            approvals.c.template_set == template_set, approvals.c.version == version)).first()
        if known is not None:
            return _approval(known._mapping), False
        try:
            with connection.begin_nested():
                connection.execute(insert(approvals).values(
                    template_set=template_set, version=version,
                    approved_by=approved_by.strip()[:128], approved_at=moment, note=note))
        except IntegrityError:  # approved by someone else at the same instant
            row = connection.execute(select(approvals).where(
                approvals.c.template_set == template_set,
                approvals.c.version == version)).first()
            return _approval(row._mapping), False
    return Approval(template_set, version, approved_by.strip()[:128], moment, note), True


def approval_of(index: SqlIndex, template_set: str, version: str) -> Approval | None:
    with index.connect() as connection:
        row = connection.execute(select(approvals).where(
            approvals.c.template_set == template_set, approvals.c.version == version)).first()
    return _approval(row._mapping) if row else None


def last_approval(index: SqlIndex, template_set: str, brand: str | None = None
                  ) -> Approval | None:
    """The most recent approval of ``template_set`` (with ``brand``, when given)."""
    query = select(approvals).order_by(approvals.c.approved_at.desc()).limit(1).where(
        approvals.c.template_set == template_set)
    if brand is not None:
        query = query.join(template_versions,
                           template_versions.c.version == approvals.c.version).where(
            template_versions.c.brand == brand)
    with index.connect() as connection:
        row = connection.execute(query).first()
    return _approval(row._mapping) if row else None


def list_versions(index: SqlIndex, template_set: str | None = None) -> list[VersionInfo]:
    """Every known version (oldest first), its approval and the documents it produced."""
    versions = select(template_versions).order_by(template_versions.c.first_used_at,
                                                  template_versions.c.version)
    granted = select(approvals)
    counts = select(documents.c.template_version, func.count().label("n"),
                    func.max(documents.c.created_at).label("last")) \
        .group_by(documents.c.template_version)
    if template_set is not None:
        versions = versions.where(template_versions.c.template_set == template_set)
        granted = granted.where(approvals.c.template_set == template_set)
    with index.connect() as connection:
        rows = [dict(row._mapping) for row in connection.execute(versions)]
        by_version = {row.version: _approval(row._mapping)
                      for row in connection.execute(granted)}
        produced = {row.template_version: (int(row.n), row.last)
                    for row in connection.execute(counts)}
    result = []
    for row in rows:
        count, last = produced.get(row["version"], (0, None))
        if last is not None and last.tzinfo is None:
            last = last.replace(tzinfo=UTC)
        result.append(VersionInfo(
            version=row["version"], template_set=row["template_set"], brand=row["brand"],
            storage_key=row["storage_key"], first_used_at=row["first_used_at"],
            documents=count, last_document_at=last, approval=by_version.get(row["version"])))
    return result


def match_versions(index: SqlIndex, prefix: str) -> list[dict[str, Any]]:
    """Registered versions whose hash starts with ``prefix`` (lower-case hex)."""
    prefix = prefix.lower()
    if not re.fullmatch(r"[0-9a-f]{1,64}", prefix):
        return []
    with index.connect() as connection:
        rows = connection.execute(select(template_versions).where(
            template_versions.c.version.like(f"{prefix}%"))
            .order_by(template_versions.c.version).limit(20))
        return [dict(row._mapping) for row in rows]


def _approval(row: Any) -> Approval:
    return Approval(row["template_set"], row["version"], row["approved_by"],
                    row["approved_at"], row["note"] or "")


__all__ = ["Approval", "VersionInfo", "approval_of", "approve", "keep_version",
           "last_approval", "list_versions", "match_versions"]
