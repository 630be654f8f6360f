"""Gapless numbering for invoices: sequences and the numbers assigned.

Print streams need no schema change: print files, covers and manifests are documents (channel
"print") in the documents table.

Revision ID: 0002_print_invoice
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_print_invoice"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sequences",
        sa.Column("series", sa.String(64), nullable=False),
        sa.Column("next_number", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.PrimaryKeyConstraint("series", name="pk_sequences"),
    )
    op.create_table(
        "document_numbers",
        sa.Column("series", sa.String(64), nullable=False),
        sa.Column("number", sa.BigInteger, nullable=False),
        sa.Column("job", sa.String(64), nullable=False),
        sa.Column("period", sa.String(10), nullable=False),
        sa.Column("record_key", sa.String(128), nullable=False),
        sa.Column("document_type", sa.String(64), nullable=False),
        sa.Column("document_id", sa.String(36), nullable=False),
        sa.Column("assigned_at", sa.DateTime, nullable=False),
        sa.PrimaryKeyConstraint("series", "number", name="pk_document_numbers"),
        sa.UniqueConstraint("job", "period", "record_key", "document_type",
                            name="uq_document_numbers_slot"),
    )


def downgrade() -> None:
    op.drop_table("document_numbers")
    op.drop_table("sequences")
