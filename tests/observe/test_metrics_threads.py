"""The metrics are created once per process even when threads ask for them at the same moment
(Celery's threads pool: `bench/bench_scale.py` workers failed their first tasks with
prometheus_client's "Duplicated timeseries in CollectorRegistry")."""

from __future__ import annotations

import threading
import time

import pytest

from factory.observe import metrics

pytestmark = pytest.mark.fast


def test_threads_asking_for_the_metrics_at_once_create_them_once(monkeypatch) -> None:
    created: list[int] = []

    class SlowMetrics:
        def __init__(self) -> None:
            time.sleep(0.05)  # registering real collectors takes a while: threads overlap
            created.append(threading.get_ident())

    monkeypatch.setattr(metrics, "_Metrics", SlowMetrics)
    monkeypatch.setattr(metrics, "_CREATED", {})  # the real collectors stay as they were
    barrier = threading.Barrier(8)
    seen: list[object] = []

    def ask() -> None:
        barrier.wait()
        seen.append(metrics._metrics())

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(created) == 1
    assert len({id(value) for value in seen}) == 1
