"""Template-set versions and their approvals: the ``template_versions`` and ``approvals`` tables.

Takes version hashes, template-set names and who approves; gives `TemplateVersionRow` and
`Approval` values (``index.templates``). Approving twice is idempotent (the first approval
stands). What a version is, and how its snapshot is stored, is `factory.archive.versions`'.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from factory.archive.db import Connections, now
from factory.archive.rows import TemplateVersionRow
from factory.archive.tables import approvals, template_versions


@dataclass(frozen=True, slots=True)
class Approval:
    """One approval: ``version`` of ``template_set`` may go to production."""

    template_set: str
    version: str
    approved_by: str
    approved_at: datetime
    note: str = ""


def _approval(row: Any) -> Approval:
    return Approval(row["template_set"], row["version"], row["approved_by"],
                    row["approved_at"], row["note"] or "")


class TemplateRepository:
    """Registered template-set versions and their approvals."""

    def __init__(self, db: Connections) -> None:
        self.db = db

    def remember(self, version: str, template_set: str, brand: str, storage_key: str) -> bool:
        """Record a template-set version; True if it is new."""
        with self.db.begin() as connection:
            known = connection.execute(select(template_versions.c.version).where(
                template_versions.c.version == version)).first()
            if known:
                return False
            try:
                with connection.begin_nested():
                    connection.execute(insert(template_versions).values(
                        version=version, template_set=template_set, brand=brand,
                        storage_key=storage_key, first_used_at=now()))
            except IntegrityError:
                return False
        return True

    def get(self, version: str) -> TemplateVersionRow | None:
        with self.db.connect() as connection:
            row = connection.execute(select(template_versions).where(
                template_versions.c.version == version)).first()
        return TemplateVersionRow.from_row(row._mapping) if row else None

    def versions(self, template_set: str | None = None) -> list[TemplateVersionRow]:
        """Every registered version (of ``template_set``), oldest first."""
        query = select(template_versions).order_by(template_versions.c.first_used_at,
                                                   template_versions.c.version)
        if template_set is not None:
            query = query.where(template_versions.c.template_set == template_set)
        with self.db.connect() as connection:
            return [TemplateVersionRow.from_row(row._mapping)
                    for row in connection.execute(query)]

    def match(self, prefix: str) -> list[TemplateVersionRow]:
        """Registered versions whose hash starts with ``prefix`` (lower-case hex), at most 20."""
        prefix = prefix.lower()
        if not re.fullmatch(r"[0-9a-f]{1,64}", prefix):
            return []
        with self.db.connect() as connection:
            rows = connection.execute(select(template_versions).where(
                template_versions.c.version.like(f"{prefix}%"))
                .order_by(template_versions.c.version).limit(20))
            return [TemplateVersionRow.from_row(row._mapping) for row in rows]

    def known_keys(self, keys: list[str]) -> set[str]:
        """Which of the storage ``keys`` are snapshots of a registered version."""
        with self.db.connect() as connection:
            return {row[0] for row in connection.execute(
                select(template_versions.c.storage_key).where(
                    template_versions.c.storage_key.in_(keys)))}

    # -- approvals -------------------------------------------------------------------------

    def approve(self, template_set: str, version: str, approved_by: str, note: str,
                at: datetime) -> tuple[Approval, bool]:
        """Record the approval; (the approval that stands, True if it is this one)."""
        with self.db.begin() as connection:
            known = connection.execute(select(approvals).where(
                approvals.c.template_set == template_set,
                approvals.c.version == version)).first()
            if known is not None:
                return _approval(known._mapping), False
            try:
                with connection.begin_nested():
                    connection.execute(insert(approvals).values(
                        template_set=template_set, version=version, approved_by=approved_by,
                        approved_at=at, note=note))
            except IntegrityError:  # approved by someone else at the same instant
                row = connection.execute(select(approvals).where(
                    approvals.c.template_set == template_set,
                    approvals.c.version == version)).one()
                return _approval(row._mapping), False
        return Approval(template_set, version, approved_by, at, note), True

    def approval_of(self, template_set: str, version: str) -> Approval | None:
        with self.db.connect() as connection:
            row = connection.execute(select(approvals).where(
                approvals.c.template_set == template_set,
                approvals.c.version == version)).first()
        return _approval(row._mapping) if row else None

    def last_approval(self, template_set: str, brand: str | None = None) -> Approval | None:
        """The most recent approval of ``template_set`` (with ``brand``, when given)."""
        query = select(approvals).order_by(approvals.c.approved_at.desc()).limit(1).where(
            approvals.c.template_set == template_set)
        if brand is not None:
            query = query.join(template_versions,
                               template_versions.c.version == approvals.c.version).where(
                template_versions.c.brand == brand)
        with self.db.connect() as connection:
            row = connection.execute(query).first()
        return _approval(row._mapping) if row else None

    def approvals(self, template_set: str | None = None) -> dict[str, Approval]:
        """Version -> its approval (of ``template_set``)."""
        query = select(approvals)
        if template_set is not None:
            query = query.where(approvals.c.template_set == template_set)
        with self.db.connect() as connection:
            return {row.version: _approval(row._mapping) for row in connection.execute(query)}
