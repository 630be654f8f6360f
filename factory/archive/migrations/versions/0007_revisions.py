"""Immutable revisions and fencing.

- documents: a forced re-render adds a revision beside the old one, which is marked superseded
  (when, by which document, who, why) instead of deleted. The unique slot becomes "one current
  row per slot" (a partial unique index) plus "one row per slot and revision".
- runs: ``epoch`` (grows per job and period: the fencing token of a run's claims), ``actor`` and
  ``reason``; at most one live run per job and period (a partial unique index). Runs that were
  left "running" beside a newer one are marked abandoned first, as `start_run` would have.
- claims: ``epoch`` of the claiming run.

Revision ID: 0007_revisions
Revises: 0006_cluster
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_revisions"
down_revision = "0006_cluster"
branch_labels = None
depends_on = None

SLOT = ["job", "period", "record_key", "channel", "document_type"]
LIVE_RUN = "status = 'running' AND dry_run = false"
CURRENT = "superseded_at IS NULL"


def upgrade() -> None:
    with op.batch_alter_table("documents") as batch:
        batch.add_column(sa.Column("superseded_at", sa.DateTime, nullable=True))
        batch.add_column(sa.Column("superseded_by", sa.String(36), nullable=True))
        batch.add_column(sa.Column("superseded_actor", sa.String(64), nullable=True))
        batch.add_column(sa.Column("supersede_reason", sa.Text, nullable=True))
        batch.drop_constraint("uq_documents_slot", type_="unique")
        batch.create_unique_constraint("uq_documents_slot_revision", [*SLOT, "revision"])
    op.create_index("uq_documents_current", "documents", SLOT, unique=True,
                    sqlite_where=sa.text(CURRENT), postgresql_where=sa.text(CURRENT))
    with op.batch_alter_table("claims") as batch:
        batch.add_column(sa.Column("epoch", sa.BigInteger, nullable=False,
                                   server_default="0"))
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("epoch", sa.BigInteger, nullable=False, server_default="0"))
        batch.add_column(sa.Column("actor", sa.String(64), nullable=False, server_default=""))
        batch.add_column(sa.Column("reason", sa.Text, nullable=True))
    op.execute(
        "UPDATE runs SET status = 'abandoned' WHERE status = 'running' AND dry_run = false"
        " AND EXISTS (SELECT 1 FROM runs AS newer WHERE newer.job = runs.job"
        " AND newer.period = runs.period AND newer.status = 'running'"
        " AND newer.dry_run = false AND (newer.started_at > runs.started_at"
        " OR (newer.started_at = runs.started_at AND newer.run_id > runs.run_id)))")
    op.create_index("uq_runs_live", "runs", ["job", "period"], unique=True,
                    sqlite_where=sa.text(LIVE_RUN), postgresql_where=sa.text(LIVE_RUN))


def downgrade() -> None:
    op.drop_index("uq_runs_live", "runs")
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("reason")
        batch.drop_column("actor")
        batch.drop_column("epoch")
    with op.batch_alter_table("claims") as batch:
        batch.drop_column("epoch")
    op.drop_index("uq_documents_current", "documents")
    with op.batch_alter_table("documents") as batch:
        batch.drop_constraint("uq_documents_slot_revision", type_="unique")
        batch.create_unique_constraint("uq_documents_slot", SLOT)
        batch.drop_column("supersede_reason")
        batch.drop_column("superseded_actor")
        batch.drop_column("superseded_by")
        batch.drop_column("superseded_at")
