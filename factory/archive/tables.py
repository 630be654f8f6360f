"""The index schema, as SQLAlchemy Core tables (migrated by Alembic, see ``migrations/``).

Takes nothing; gives ``metadata`` and its tables:

- ``documents``: one row per archived artifact and revision. Rows are never deleted or
  replaced except by the retention purge: a forced re-render adds revision N+1 and marks N
  ``superseded_at``/``superseded_by`` (with who and why). At most one *current* (not superseded)
  row per (job, period, record key, channel, document type), enforced by a partial unique
  index, so concurrent workers cannot double-archive; (slot, revision) is unique too.
- ``claims``: a record being processed right now; written before the work, deleted in the same
  transaction that inserts the document row, so a crash in between leaves a claim that the next
  attempt takes over instead of a duplicate. ``holder`` names the unit of work (a Celery task
  id), so a task redelivered after its worker died takes its own claim over at once. ``epoch``
  is the claiming run's epoch: a claim is only taken over by a newer run (the fence).
- ``runs``: every run, its status, heartbeat and report; ``epoch`` grows with every run of the
  same job and period (the fencing token of its claims); ``actor`` and ``reason`` say who
  started it and why (required with ``--force``). At most one live run per job and period, by
  a partial unique index.
- ``template_versions``: every template-set version used (or approved), and where its snapshot
  is stored.
- ``approvals``: who approved which template-set version for production, when, and why.
- ``sequences``: the next number of each gapless numbering series (invoices, credit notes).
- ``document_numbers``: every number assigned: (series, number) is the primary key, so a number
  exists once; (job, period, record key, document type) is unique, so a record keeps its number
  when rendered again. Written in the transaction that archives the document.
- ``deliveries``: one row per send (email, SMS) or print hand-over of a record, keyed by its
  idempotency key: written "sending" before the transport is called, "sent" (with the
  transport's message id) in the transaction that indexes the archived message, "failed" or
  "unknown" otherwise; print rows are "queued" for the print stream.
- ``audit_log``: append-only trail of retrievals, exports, holds, purges, run starts; each entry
  carries the hash of the one before it (``prev_hash``) and its own (``entry_hash``), so an
  edited or deleted entry breaks the chain. ``audit_head`` is the chain's newest entry, updated
  in the same transaction as every append: it serialises appenders and shows a cut-off tail.
- ``api_keys``: API keys, hashed (HMAC-SHA256 with a per-key salt), each with one role.
- ``letters``: interactive letters written in the web UI: the record and sanitised blocks as
  submitted (``content``, JSON, with its SHA-256), the author, and the four-eyes review
  (pending, approved or rejected, by whom, when, why); once sent, the archived document's id.
  A status changes only from the one it was read in (``UPDATE ... WHERE status = ...``).
- ``schedule_firings``: the scheduler's firings (written by `factory.archive.schedule`). Every
  table is defined here, so ``metadata`` is the whole schema whatever was imported.
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
    text,
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
        naive: datetime = value.astimezone(UTC).replace(tzinfo=None)
        return naive

    def process_result_value(self, value: Any, dialect: Any) -> datetime | None:
        if value is None:
            return None
        result: datetime = (value.replace(tzinfo=UTC) if value.tzinfo is None
                            else value.astimezone(UTC))
        return result


metadata = MetaData(naming_convention={
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "pk": "pk_%(table_name)s",
})

SLOT = ("job", "period", "record_key", "channel", "document_type")

#: The rows of ``runs`` that may do work: at most one per (job, period), by a unique index.
LIVE_RUN = "status = 'running' AND dry_run = false"

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
    Column("record_sha256", String(64)),
    Column("media_type", String(64), nullable=False),
    Column("revision", Integer, nullable=False, default=1),
    Column("created_at", UTCDateTime, nullable=False),
    Column("retention_until", UTCDateTime, nullable=False),
    Column("legal_hold", Boolean, nullable=False, default=False),
    Column("superseded_at", UTCDateTime),
    Column("superseded_by", String(36)),
    Column("superseded_actor", String(64)),
    Column("supersede_reason", Text),
    Column("customer_name", String(256)),
    Column("account", String(128)),
    UniqueConstraint(*SLOT, "revision", name="uq_documents_slot_revision"),
    Index("uq_documents_current", *SLOT, unique=True,
          sqlite_where=text("superseded_at IS NULL"),
          postgresql_where=text("superseded_at IS NULL")),
    Index("ix_documents_customer", "customer_id", "created_at"),
    Index("ix_documents_job_period", "job", "period"),
    Index("ix_documents_template_version", "template_version"),
    Index("ix_documents_customer_name", "customer_name"),
    Index("ix_documents_account", "account"),
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
    Column("epoch", BigInteger, nullable=False, default=0),
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
    Column("owner", String(160), nullable=False, default=""),
    Column("finished_at", UTCDateTime),
    Column("report", Text),
    Column("epoch", BigInteger, nullable=False, default=0),
    Column("actor", String(64), nullable=False, default=""),
    Column("reason", Text),
    Index("ix_runs_job_period", "job", "period", "started_at"),
    Index("uq_runs_live", "job", "period", unique=True,
          sqlite_where=text(LIVE_RUN), postgresql_where=text(LIVE_RUN)),
)

template_versions = Table(
    "template_versions", metadata,
    Column("version", String(64), primary_key=True),
    Column("template_set", String(64), nullable=False),
    Column("brand", String(64), nullable=False),
    Column("storage_key", String(512), nullable=False),
    Column("first_used_at", UTCDateTime, nullable=False),
)

sequences = Table(
    "sequences", metadata,
    Column("series", String(64), primary_key=True),
    Column("next_number", BigInteger, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

document_numbers = Table(
    "document_numbers", metadata,
    Column("series", String(64), nullable=False),
    Column("number", BigInteger, nullable=False),
    Column("job", String(64), nullable=False),
    Column("period", String(10), nullable=False),
    Column("record_key", String(128), nullable=False),
    Column("document_type", String(64), nullable=False),
    Column("document_id", String(36), nullable=False),
    Column("assigned_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("series", "number", name="pk_document_numbers"),
    UniqueConstraint("job", "period", "record_key", "document_type",
                     name="uq_document_numbers_slot"),
)

approvals = Table(
    "approvals", metadata,
    Column("template_set", String(64), nullable=False),
    Column("version", String(64), nullable=False),
    Column("approved_by", String(128), nullable=False),
    Column("approved_at", UTCDateTime, nullable=False),
    Column("note", Text, nullable=False, default=""),
    PrimaryKeyConstraint("template_set", "version", name="pk_approvals"),
    Index("ix_approvals_template_set", "template_set", "approved_at"),
)

deliveries = Table(
    "deliveries", metadata,
    Column("delivery_key", String(36), primary_key=True),
    Column("job", String(64), nullable=False),
    Column("period", String(10), nullable=False),
    Column("record_key", String(128), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("document_type", String(64), nullable=False),
    Column("run_id", String(40), nullable=False),
    Column("status", String(16), nullable=False),
    Column("document_id", String(36)),
    Column("storage_key", String(512)),
    Column("recipient", String(320)),
    Column("transport", String(256)),
    Column("message_id", String(256)),
    Column("attempts", Integer, nullable=False, default=0),
    Column("reason", Text),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("sent_at", UTCDateTime),
    UniqueConstraint(*SLOT, name="uq_deliveries_slot"),
    Index("ix_deliveries_status", "job", "period", "channel", "status"),
    Index("ix_deliveries_recipient", "recipient", "channel"),
)

audit_log = Table(
    "audit_log", metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("at", UTCDateTime, nullable=False),
    Column("actor", String(64), nullable=False),
    Column("role", String(16), nullable=False),
    Column("action", String(32), nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("document_id", String(36)),
    Column("run_id", String(40)),
    Column("details", Text, nullable=False),
    Column("prev_hash", String(64), nullable=False, unique=True),
    Column("entry_hash", String(64), nullable=False, unique=True),
    Index("ix_audit_log_document", "document_id", "seq"),
)

audit_head = Table(
    "audit_head", metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", BigInteger, nullable=False),
    Column("entry_hash", String(64), nullable=False),
)

api_keys = Table(
    "api_keys", metadata,
    Column("key_id", String(16), primary_key=True),
    Column("name", String(128), nullable=False),
    Column("role", String(16), nullable=False),
    Column("salt", String(32), nullable=False),
    Column("key_hash", String(64), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("created_by", String(64), nullable=False),
    Column("revoked_at", UTCDateTime),
)

letters = Table(
    "letters", metadata,
    Column("letter_id", String(36), primary_key=True),
    Column("job", String(64), nullable=False),
    Column("record_key", String(128), nullable=False),
    Column("customer_id", String(128), nullable=False),
    Column("status", String(16), nullable=False),
    Column("four_eyes", Boolean, nullable=False),
    Column("author", String(64), nullable=False),
    Column("author_role", String(16), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("content", Text, nullable=False),
    Column("content_sha256", String(64), nullable=False),
    Column("reviewer", String(64)),
    Column("reviewed_at", UTCDateTime),
    Column("review_reason", Text),
    Column("document_id", String(36)),
    Column("run_id", String(40)),
    Column("reason", Text),
    Column("updated_at", UTCDateTime, nullable=False),
    Index("ix_letters_status", "status", "created_at"),
)

schedule_firings = Table(
    "schedule_firings", metadata,
    Column("job", String(64), nullable=False),
    Column("fired_at", UTCDateTime, nullable=False),
    Column("period", String(10), nullable=False),
    Column("status", String(16), nullable=False),
    Column("run_id", String(40)),
    Column("note", Text),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("job", "fired_at", name="pk_schedule_firings"),
    Index("ix_schedule_firings_job_period", "job", "period"),
)
