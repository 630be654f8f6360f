"""A connection gone stale (PostgreSQL restarted, its backend terminated) is replaced, not
failed on: the pool checks each connection it hands out without a round trip (no
``pool_pre_ping``: that ``SELECT 1`` doubled the index's transactions), and a run whose index
connections are all terminated mid-run completes with every record archived once.

On the real PostgreSQL only: SQLite has no server connection to lose.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from factory.archive import Slot, open_index
from factory.config import load_settings
from factory.executors import InlineExecutor
from factory.runner import RunOptions, run_job
from factory.runner.hooks import DEFAULT_HOOKS, Hook, add_hook
from tests.conftest import REPO

pytestmark = pytest.mark.postgresql

SLOT = Slot("job", "2026-11", "C1", "pdf", "statement")


def terminate_backends(index_url: str) -> int:
    """Terminate every other backend of the database (this session's own database), and wait
    until they are gone: `pg_terminate_backend` only signals the backend, which exits (and
    closes its socket) a moment later; a stale connection is one the server has closed."""
    import time

    import psycopg

    url = index_url.split("?", 1)[0]
    with psycopg.connect(url, autocommit=True) as connection:
        pids = [pid for (pid,) in connection.execute(
            "SELECT pid FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()").fetchall()]
        for pid in pids:
            connection.execute("SELECT pg_terminate_backend(%s)", (pid,))
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and connection.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(%s)",
                (pids,)).fetchone()[0]:
            time.sleep(0.01)
    return len(pids)


def test_a_terminated_pooled_connection_is_replaced_without_an_error(pg_url: str) -> None:
    index = open_index(pg_url)
    try:
        assert index.documents.find(SLOT) is None  # a connection is now in the pool
        assert terminate_backends(pg_url) >= 1
        assert index.documents.find(SLOT) is None  # no RetryableArchiveError: replaced
        assert index.claims.held() == 0
    finally:
        index.close()


def test_the_pool_does_not_ping_on_checkout(pg_url: str) -> None:
    """The ``SELECT 1`` per checkout was half of the index's transactions (docs/scale.md)."""
    index = open_index(pg_url)
    try:
        assert index.engine.pool._pre_ping is False  # the pool's own flag
    finally:
        index.close()


class TerminateAfterFirstChunk(Hook):
    """Terminates every index connection (the coordinator's and the worker's) once."""

    url = ""
    terminated = 0

    def after_chunk(self, run, outcomes):
        if not TerminateAfterFirstChunk.terminated:
            TerminateAfterFirstChunk.terminated = terminate_backends(self.url)


def test_a_run_whose_index_connections_are_terminated_mid_run_archives_every_record(
        sample_job, pg_url: str, tmp_path: Path) -> None:
    settings = load_settings(REPO, {}, var_dir=str(tmp_path / "var"), workers=1,
                             index_url=pg_url)
    TerminateAfterFirstChunk.url, TerminateAfterFirstChunk.terminated = pg_url, 0
    add_hook(TerminateAfterFirstChunk)
    try:
        report = run_job(sample_job, settings, RunOptions(period="2026-11", limit=6,
                                                          chunk_size=2), InlineExecutor())
    finally:
        DEFAULT_HOOKS.remove(TerminateAfterFirstChunk)
    assert TerminateAfterFirstChunk.terminated >= 1
    assert report.status == "completed", report.warnings
    assert report.counts.archived == 6 and report.counts.failed == 0
    index = open_index(pg_url)
    try:
        entries = list(index.documents.entries(job=sample_job.name, period="2026-11"))
        assert sorted(e.record_key for e in entries) == sorted({e.record_key for e in entries})
        assert len(entries) == 6
        assert index.claims.held() == 0
    finally:
        index.close()
