"""``docfactory worker --metrics-port``: a real Celery worker's pool processes' render and
archive timings on its own /metrics; task events on by default (what Flower reads); the
Celery app Flower is pointed at (`factory.cli.flower`)."""

from __future__ import annotations

import re
import secrets
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from factory.cli.app import cli, load_commands
from tests.conftest import REPO
from tests.fixtures_cluster import REDIS_URL, start_worker, stop_worker
from tests.ops.test_ops_health import samples, value


def test_worker_metrics_and_task_events(sample_job: Any, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch,
                                        redis_client: Any) -> None:
    name = f"dfops-{secrets.token_hex(3)}"
    worker = start_worker(name, tmp_path / "worker.log", concurrency=1,
                          extra_env={"FACTORY_VAR": str(tmp_path / "wvar")},
                          args=("--metrics-port", "0"))
    try:
        port = int(re.search(r"metrics on http://0\.0\.0\.0:(\d+)/metrics",
                             worker.log_text()).group(1))  # type: ignore[union-attr]
        from factory.executors.celery_app import make_app

        events: list[dict[str, Any]] = []
        app = make_app(worker.options())  # type: ignore[arg-type]
        bound = threading.Event()

        def listen() -> None:
            def seen(event: dict[str, Any]) -> None:
                events.append(event)
                receiver.should_stop = sum(e["type"] == "task-succeeded" for e in events) >= 3

            with app.connection() as connection:
                receiver = app.events.Receiver(connection, handlers={"*": seen})
                receiver.on_consume_ready = lambda *_a, **_k: bound.set()  # queue bound
                receiver.capture(limit=None, timeout=None, wakeup=False)

        thread = threading.Thread(target=listen, daemon=True)
        thread.start()
        assert bound.wait(30)
        for key, value_ in {**worker.env, "FACTORY_VAR": str(tmp_path / "var"),
                            "FACTORY_HOME": str(REPO)}.items():
            monkeypatch.setenv(key, value_)
        load_commands()
        result = CliRunner().invoke(cli, ["run", str(sample_job.path), "--period",
                                          "2026-11", "--executor", "celery", "--limit",
                                          "3", "--chunk-size", "1"])
        assert result.exit_code == 0, result.output
        thread.join(30)
        assert sum(e["type"] == "task-succeeded" for e in events) == 3, \
            [e["type"] for e in events]
        found = samples(httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text)
        labels = {"job": sample_job.name, "document_type": sample_job.document_type}
        assert value(found, "docfactory_render_seconds_count", **labels) == 3
        assert value(found, "docfactory_archive_seconds_count", **labels) == 3
    finally:
        stop_worker(worker)


def test_flower_finds_the_clusters_app_from_the_environment(monkeypatch: pytest.MonkeyPatch
                                                            ) -> None:
    """`celery -A factory.cli.flower flower` must watch the cluster's own event exchange."""
    import importlib
    import sys

    from celery.app.utils import find_app

    monkeypatch.setenv("FACTORY_BROKER_URL", REDIS_URL)
    monkeypatch.setenv("FACTORY_CLUSTER", "ops-flower")
    sys.modules.pop("factory.cli.flower", None)
    app = find_app("factory.cli.flower")
    assert app.conf.event_exchange == "ops-flower.events"
    assert app.conf.task_default_queue == "ops-flower"
    assert app.conf.broker_url == REDIS_URL
    importlib.invalidate_caches()
