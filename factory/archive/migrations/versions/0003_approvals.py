"""Template-set approvals: who approved which version for production, when, and why.

Revision ID: 0003_approvals
Revises: 0002_print_invoice
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_approvals"
down_revision = "0002_print_invoice"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "approvals",
        sa.Column("template_set", sa.String(64), nullable=False),
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("approved_by", sa.String(128), nullable=False),
        sa.Column("approved_at", sa.DateTime, nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("template_set", "version", name="pk_approvals"),
    )
    op.create_index("ix_approvals_template_set", "approvals", ["template_set", "approved_at"])
    op.create_index("ix_documents_template_version", "documents", ["template_version"])


def downgrade() -> None:
    op.drop_index("ix_documents_template_version", "documents")
    op.drop_index("ix_approvals_template_set", "approvals")
    op.drop_table("approvals")
