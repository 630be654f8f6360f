"""Deliveries: one row per email/SMS send or print hand-over, keyed by its idempotency key.

Revision ID: 0004_delivery
Revises: 0003_approvals
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_delivery"
down_revision = "0003_approvals"
branch_labels = None
depends_on = None

SLOT = ("job", "period", "record_key", "channel", "document_type")


def upgrade() -> None:
    op.create_table(
        "deliveries",
        sa.Column("delivery_key", sa.String(36), nullable=False),
        sa.Column("job", sa.String(64), nullable=False),
        sa.Column("period", sa.String(10), nullable=False),
        sa.Column("record_key", sa.String(128), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("document_type", sa.String(64), nullable=False),
        sa.Column("run_id", sa.String(40), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("document_id", sa.String(36)),
        sa.Column("storage_key", sa.String(512)),
        sa.Column("recipient", sa.String(320)),
        sa.Column("transport", sa.String(256)),
        sa.Column("message_id", sa.String(256)),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.Column("sent_at", sa.DateTime),
        sa.PrimaryKeyConstraint("delivery_key", name="pk_deliveries"),
        sa.UniqueConstraint(*SLOT, name="uq_deliveries_slot"),
    )
    op.create_index("ix_deliveries_status", "deliveries", ["job", "period", "channel", "status"])


def downgrade() -> None:
    op.drop_index("ix_deliveries_status", "deliveries")
    op.drop_table("deliveries")
