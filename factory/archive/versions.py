"""Template-set versions in the archive: kept, approved, listed, found by prefix.

Takes an open `SqlIndex` (and a `Store` to keep snapshots); gives:

- `keep_version`: the deterministic zip of a template set (anything `Snapshotted`) stored at
  ``_template-sets/<version>.zip`` (once) and registered in ``template_versions``, so the version
  can be rendered again (runs call it at start, approvals call it too);
- `approve`, `approval_of`, `last_approval`: the ``approvals`` table (who approved which
  version of a template set, when, with a note); approving twice is idempotent;
- `list_versions`: every version the index knows, with its approval and how many documents it
  produced;
- `match_versions`: versions whose hash starts with a prefix (to resolve ``--against abc123``).

The SQL lives in `factory.archive.templates` (``index.templates``); database errors surface as
`ArchiveError`. The archive does not import the templates layer: a template set is anything with
a name, brand, version and snapshot (`Snapshotted`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from factory.archive.keys import template_snapshot_key
from factory.archive.store import Store, sha256_of
from factory.archive.templates import Approval
from factory.errors import ConfigError

if TYPE_CHECKING:
    from factory.archive.index import SqlIndex

SNAPSHOT_MEDIA_TYPE = "application/zip"


class Snapshotted(Protocol):
    """What the archive needs of a template set (`factory.templates.TemplateSet` is one)."""

    @property
    def name(self) -> str: ...

    @property
    def brand(self) -> str: ...

    @property
    def version(self) -> str: ...

    def snapshot(self) -> bytes: ...


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


def keep_version(store: Store, index: SqlIndex, template_set: Snapshotted) -> str:
    """Store ``template_set``'s snapshot (if absent) and register its version; return it."""
    version = template_set.version
    key = template_snapshot_key(version)
    if index.templates.get(version) is None or not store.exists(key):
        if not store.exists(key):  # stored once: its contents hash to the version (verify)
            data = template_set.snapshot()
            store.put(key, data, media_type=SNAPSHOT_MEDIA_TYPE, sha256=sha256_of(data))
        index.templates.remember(version, template_set.name, template_set.brand, key)
    return version


def approve(index: SqlIndex, template_set: str, version: str, approved_by: str,
            note: str = "", at: datetime | None = None) -> tuple[Approval, bool]:
    """Record that ``version`` of ``template_set`` is approved; (approval, True if new).

    Approving an approved version changes nothing and returns the first approval.
    """
    if not approved_by.strip():
        raise ConfigError("an approval needs the name of who approves (--by NAME)")
    return index.templates.approve(template_set, version, approved_by.strip()[:128], note,
                                   at or datetime.now(UTC))


def approval_of(index: SqlIndex, template_set: str, version: str) -> Approval | None:
    return index.templates.approval_of(template_set, version)


def last_approval(index: SqlIndex, template_set: str, brand: str | None = None
                  ) -> Approval | None:
    """The most recent approval of ``template_set`` (with ``brand``, when given)."""
    return index.templates.last_approval(template_set, brand)


def list_versions(index: SqlIndex, template_set: str | None = None) -> list[VersionInfo]:
    """Every known version (oldest first), its approval and the documents it produced."""
    rows = index.templates.versions(template_set)
    by_version = index.templates.approvals(template_set)
    produced = index.documents.produced_by_version()
    result = []
    for row in rows:
        count, last = produced.get(row.version, (0, None))
        if last is not None and last.tzinfo is None:
            last = last.replace(tzinfo=UTC)
        result.append(VersionInfo(
            version=row.version, template_set=row.template_set, brand=row.brand,
            storage_key=row.storage_key, first_used_at=row.first_used_at,
            documents=count, last_document_at=last, approval=by_version.get(row.version)))
    return result


def match_versions(index: SqlIndex, prefix: str) -> list[dict[str, Any]]:
    """Registered versions whose hash starts with ``prefix`` (lower-case hex), as dicts.

    facade: kept while callers move (`factory.proofs.versions`); new code uses
    ``index.templates.match``, which gives `TemplateVersionRow` values."""
    return [row.as_dict() for row in index.templates.match(prefix)]


__all__ = ["Approval", "Snapshotted", "VersionInfo", "approval_of", "approve", "keep_version",
           "last_approval", "list_versions", "match_versions"]
