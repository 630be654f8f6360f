"""Alembic environment for the archive index; always run through `factory.archive.index`."""

from alembic import context

from factory.archive.tables import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
