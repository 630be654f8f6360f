"""Deliveries found by recipient.

- deliveries: ``ix_deliveries_recipient`` on (recipient, channel): a customer asking for their
  documents on ``/my`` by email address or phone number is found among the messages sent
  (`factory.api.customer`) without reading the whole table.

Revision ID: 0011_deliveries_recipient
Revises: 0010_letters
"""

from alembic import op

revision = "0011_deliveries_recipient"
down_revision = "0010_letters"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_deliveries_recipient", "deliveries", ["recipient", "channel"])


def downgrade() -> None:
    op.drop_index("ix_deliveries_recipient", "deliveries")
