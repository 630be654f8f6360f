"""Interactive letters: written in the web UI, queued for a second person's approval, sent.

Revision ID: 0010_letters
Revises: 0009_schedule_firings
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_letters"
down_revision = "0009_schedule_firings"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "letters",
        sa.Column("letter_id", sa.String(36), nullable=False),
        sa.Column("job", sa.String(64), nullable=False),
        sa.Column("record_key", sa.String(128), nullable=False),
        sa.Column("customer_id", sa.String(128), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("four_eyes", sa.Boolean, nullable=False),
        sa.Column("author", sa.String(64), nullable=False),
        sa.Column("author_role", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("content", sa.Text, nullable=False),
        sa.Column("content_sha256", sa.String(64), nullable=False),
        sa.Column("reviewer", sa.String(64), nullable=True),
        sa.Column("reviewed_at", sa.DateTime, nullable=True),
        sa.Column("review_reason", sa.Text, nullable=True),
        sa.Column("document_id", sa.String(36), nullable=True),
        sa.Column("run_id", sa.String(40), nullable=True),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.PrimaryKeyConstraint("letter_id", name="pk_letters"),
    )
    op.create_index("ix_letters_status", "letters", ["status", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_letters_status", "letters")
    op.drop_table("letters")
