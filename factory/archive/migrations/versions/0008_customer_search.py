"""Archive search by customer name and account.

- documents: ``customer_name`` and ``account`` (nullable; rows archived before this revision
  keep NULL), each indexed, so the archive can be searched by who a document is for.

Revision ID: 0008_customer_search
Revises: 0007_revisions
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_customer_search"
down_revision = "0007_revisions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("documents") as batch:
        batch.add_column(sa.Column("customer_name", sa.String(256), nullable=True))
        batch.add_column(sa.Column("account", sa.String(128), nullable=True))
    op.create_index("ix_documents_customer_name", "documents", ["customer_name"])
    op.create_index("ix_documents_account", "documents", ["account"])


def downgrade() -> None:
    op.drop_index("ix_documents_account", "documents")
    op.drop_index("ix_documents_customer_name", "documents")
    with op.batch_alter_table("documents") as batch:
        batch.drop_column("account")
        batch.drop_column("customer_name")
