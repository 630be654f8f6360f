"""The PostgreSQL server the tests share (127.0.0.1:5432, trust auth) and a helper to run
statements on it. The fixtures ``pg_database``, ``pg_url`` and ``index_url`` in
``tests/conftest.py`` give each session a database of its own and each test a schema in it.
"""

from __future__ import annotations

#: The maintenance database, for CREATE/DROP DATABASE (bare URL: psycopg and SQLAlchemy).
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
#: The same with SQLAlchemy's psycopg 3 driver named.
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def psql(database_url: str, *statements: str) -> None:
    """Run ``statements`` on ``database_url`` (bare postgresql:// URL), autocommit."""
    import psycopg

    with psycopg.connect(database_url, autocommit=True, connect_timeout=10) as connection:
        for statement in statements:
            connection.execute(statement)
