"""Claims name their holder (the unit of work, e.g. a Celery task id), so a task redelivered
after its worker was killed takes its own claim over at once instead of waiting for the lease.

Revision ID: 0006_cluster
Revises: 0005_compliance
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_cluster"
down_revision = "0005_compliance"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("claims") as batch:
        batch.add_column(sa.Column("holder", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("claims") as batch:
        batch.drop_column("holder")
