"""The scheduler's firings: one row per (job, firing time), claimed before the run starts.

Revision ID: 0009_schedule_firings
Revises: 0008_customer_search
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_schedule_firings"
down_revision = "0008_customer_search"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "schedule_firings",
        sa.Column("job", sa.String(64), nullable=False),
        sa.Column("fired_at", sa.DateTime, nullable=False),
        sa.Column("period", sa.String(10), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("run_id", sa.String(40), nullable=True),
        sa.Column("note", sa.Text, nullable=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.PrimaryKeyConstraint("job", "fired_at", name="pk_schedule_firings"),
    )
    op.create_index("ix_schedule_firings_job_period", "schedule_firings", ["job", "period"])


def downgrade() -> None:
    op.drop_index("ix_schedule_firings_job_period", "schedule_firings")
    op.drop_table("schedule_firings")
