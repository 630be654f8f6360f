"""The index schema, as SQLAlchemy Core tables (migrated by Alembic, see ``migrations/``).

Takes nothing; gives ``metadata`` and its tables:

- ``documents``: one row per archived artifact; exactly one per (job, period, record key,
  channel, document type), enforced by a unique constraint so concurrent workers cannot
  double-archive.
- ``claims``: a record being processed right now; written before the work, deleted in the same
  transaction that inserts the document row, so a crash in between leaves a claim that the next
  attempt takes over instead of a duplicate. ``holder`` names the unit of work (a Celery task
  id), so a task redelivered after its worker died takes its own claim over at once.
- ``runs``: every run, its status, heartbeat and report.
- ``template_versions``: every template-set version used, and where its snapshot is stored.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every database (SQLite keeps them naive)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the index; use UTC-aware datetimes")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = MetaData(naming_convention={
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "pk": "pk_%(table_name)s",
})

SLOT = ("job", "period", "record_key", "channel", "document_type")

documents = Table(
    "documents", metadata,
    Column("document_id", String(36), primary_key=True),
    Column("job", String(64), nullable=False),
    Column("run_id", String(40), nullable=False),
    Column("period", String(10), nullable=False),
    Column("record_key", String(128), nullable=False),
    Column("customer_id", String(128), nullable=False),
    Column("document_type", String(64), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("locale", String(16), nullable=False),
    Column("template_version", String(64), nullable=False),
    Column("page_count", Integer),
    Column("byte_size", BigInteger, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("storage_key", String(512), nullable=False, unique=True),
    Column("record_storage_key", String(512)),
    Column("media_type", String(64), nullable=False),
    Column("revision", Integer, nullable=False, default=1),
    Column("created_at", UTCDateTime, nullable=False),
    Column("retention_until", UTCDateTime, nullable=False),
    Column("legal_hold", Boolean, nullable=False, default=False),
    UniqueConstraint(*SLOT, name="uq_documents_slot"),
    Index("ix_documents_customer", "customer_id", "created_at"),
    Index("ix_documents_job_period", "job", "period"),
)

claims = Table(
    "claims", metadata,
    Column("job", String(64), nullable=False),
    Column("period", String(10), nullable=False),
    Column("record_key", String(128), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("document_type", String(64), nullable=False),
    Column("run_id", String(40), nullable=False),
    Column("token", String(32), nullable=False),
    Column("claimed_at", UTCDateTime, nullable=False),
    Column("holder", String(64)),
    PrimaryKeyConstraint(*SLOT, name="pk_claims"),
)

runs = Table(
    "runs", metadata,
    Column("run_id", String(40), primary_key=True),
    Column("job", String(64), nullable=False),
    Column("period", String(10), nullable=False),
    Column("status", String(16), nullable=False),
    Column("dry_run", Boolean, nullable=False, default=False),
    Column("executor", String(16), nullable=False),
    Column("workers", Integer, nullable=False),
    Column("template_version", String(64), nullable=False),
    Column("started_at", UTCDateTime, nullable=False),
    Column("heartbeat_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime),
    Column("report", Text),
    Index("ix_runs_job_period", "job", "period", "started_at"),
)

template_versions = Table(
    "template_versions", metadata,
    Column("version", String(64), primary_key=True),
    Column("template_set", String(64), nullable=False),
    Column("brand", String(64), nullable=False),
    Column("storage_key", String(512), nullable=False),
    Column("first_used_at", UTCDateTime, nullable=False),
)
