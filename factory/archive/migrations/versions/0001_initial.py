"""The first index schema: documents, claims, runs, template versions.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

SLOT = ("job", "period", "record_key", "channel", "document_type")


def upgrade() -> None:
    op.create_table(
        "documents",
        sa.Column("document_id", sa.String(36), primary_key=True),
        sa.Column("job", sa.String(64), nullable=False),
        sa.Column("run_id", sa.String(40), nullable=False),
        sa.Column("period", sa.String(10), nullable=False),
        sa.Column("record_key", sa.String(128), nullable=False),
        sa.Column("customer_id", sa.String(128), nullable=False),
        sa.Column("document_type", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("locale", sa.String(16), nullable=False),
        sa.Column("template_version", sa.String(64), nullable=False),
        sa.Column("page_count", sa.Integer),
        sa.Column("byte_size", sa.BigInteger, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("storage_key", sa.String(512), nullable=False),
        sa.Column("record_storage_key", sa.String(512)),
        sa.Column("media_type", sa.String(64), nullable=False),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("retention_until", sa.DateTime, nullable=False),
        sa.Column("legal_hold", sa.Boolean, nullable=False),
        sa.PrimaryKeyConstraint("document_id", name="pk_documents"),
        sa.UniqueConstraint(*SLOT, name="uq_documents_slot"),
        sa.UniqueConstraint("storage_key", name="uq_documents_storage_key"),
    )
    op.create_index("ix_documents_customer", "documents", ["customer_id", "created_at"])
    op.create_index("ix_documents_job_period", "documents", ["job", "period"])
    op.create_table(
        "claims",
        sa.Column("job", sa.String(64), nullable=False),
        sa.Column("period", sa.String(10), nullable=False),
        sa.Column("record_key", sa.String(128), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("document_type", sa.String(64), nullable=False),
        sa.Column("run_id", sa.String(40), nullable=False),
        sa.Column("token", sa.String(32), nullable=False),
        sa.Column("claimed_at", sa.DateTime, nullable=False),
        sa.PrimaryKeyConstraint(*SLOT, name="pk_claims"),
    )
    op.create_table(
        "runs",
        sa.Column("run_id", sa.String(40), nullable=False),
        sa.Column("job", sa.String(64), nullable=False),
        sa.Column("period", sa.String(10), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("dry_run", sa.Boolean, nullable=False),
        sa.Column("executor", sa.String(16), nullable=False),
        sa.Column("workers", sa.Integer, nullable=False),
        sa.Column("template_version", sa.String(64), nullable=False),
        sa.Column("started_at", sa.DateTime, nullable=False),
        sa.Column("heartbeat_at", sa.DateTime, nullable=False),
        sa.Column("owner", sa.String(160), nullable=False),
        sa.Column("finished_at", sa.DateTime),
        sa.Column("report", sa.Text),
        sa.PrimaryKeyConstraint("run_id", name="pk_runs"),
    )
    op.create_index("ix_runs_job_period", "runs", ["job", "period", "started_at"])
    op.create_table(
        "template_versions",
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("template_set", sa.String(64), nullable=False),
        sa.Column("brand", sa.String(64), nullable=False),
        sa.Column("storage_key", sa.String(512), nullable=False),
        sa.Column("first_used_at", sa.DateTime, nullable=False),
        sa.PrimaryKeyConstraint("version", name="pk_template_versions"),
    )


def downgrade() -> None:
    op.drop_table("template_versions")
    op.drop_index("ix_runs_job_period", "runs")
    op.drop_table("runs")
    op.drop_table("claims")
    op.drop_index("ix_documents_job_period", "documents")
    op.drop_index("ix_documents_customer", "documents")
    op.drop_table("documents")
