"""The on-demand service's renderers in warm worker processes (what ``docfactory serve``
uses): real rendering in another process, idempotency exact when concurrent requests with one
Idempotency-Key land in different processes, different keys giving different documents, and a
renderer process that dies failing its request as retryable and being replaced."""

from __future__ import annotations

import json
import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from factory.archive import open_index
from factory.config import Settings
from factory.errors import InputError, RetryableError
from factory.jobs import JobSpec, load_job
from factory.ondemand import OnDemandService, RenderRequest
from factory.ondemand.warm import ProcessRenderers
from tests.conftest import csv_source, pdf_text, write_job


def records(sample_dir: Path) -> list[dict[str, Any]]:
    lines = (sample_dir / "customers.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


@pytest.fixture
def job(tmp_path: Path, sample_dir: Path) -> JobSpec:
    return load_job(write_job(tmp_path, source=csv_source(sample_dir / "customers.csv",
                                                          sample_dir / "transactions.csv")))


@pytest.fixture
def service(settings: Settings) -> Any:
    service = OnDemandService(settings, pool_size=2, processes=True)
    yield service
    service.close()


def renderer_pids(service: OnDemandService) -> set[int]:
    renderers = service._renderers
    assert isinstance(renderers, ProcessRenderers)
    pool = renderers._pool
    assert pool is not None
    return {p.pid for p in pool._processes.values()}  # type: ignore[attr-defined]


def test_concurrent_retries_in_different_processes_get_one_document(
        service: OnDemandService, job: JobSpec, sample_dir: Path, settings: Settings) -> None:
    record = records(sample_dir)[0]
    request = RenderRequest(record, period="2026-11", idempotency_key="ticket-1")
    with ThreadPoolExecutor(6) as threads:
        results = list(threads.map(lambda _: service.render(job, request), range(6)))
    assert all(r.ok for r in results), [r.as_dict() for r in results]
    assert len({r.document_id for r in results}) == 1
    assert sum(r.created for r in results) == 1
    pids = renderer_pids(service)
    assert pids and os.getpid() not in pids  # rendered in the worker processes
    others = [RenderRequest(record, period="2026-11", idempotency_key=f"ticket-{n}")
              for n in range(2, 6)]
    with ThreadPoolExecutor(4) as threads:
        fresh = list(threads.map(lambda r: service.render(job, r), others))
    assert all(r.created for r in fresh) and len({r.document_id for r in fresh}) == 4
    assert results[0].document_id not in {r.document_id for r in fresh}
    text = pdf_text(service.pdf(job, fresh[0].document_id or ""))
    assert record["name"] in text
    index = open_index(settings.default_index_url)
    try:
        archived = list(index.documents.entries(job=job.name, period="2026-11"))
    finally:
        index.close()
    assert len(archived) == 5


def test_a_reused_key_with_another_record_is_refused_across_processes(
        service: OnDemandService, job: JobSpec, sample_dir: Path) -> None:
    first = records(sample_dir)[0]
    done = service.render(job, RenderRequest(first, period="2026-11", idempotency_key="k"))
    assert done.created
    changed = {**first, "name": first["name"] + " Jr."}
    with pytest.raises(InputError, match="Idempotency-Key already used"):
        service.render(job, RenderRequest(changed, period="2026-11", idempotency_key="k"))


def test_a_renderer_process_that_dies_fails_as_retryable_and_is_replaced(
        service: OnDemandService, job: JobSpec, sample_dir: Path) -> None:
    record = records(sample_dir)[0]
    assert service.render(job, RenderRequest(record, period="2026-11",
                                             idempotency_key="before")).ok
    renderers = service._renderers
    assert isinstance(renderers, ProcessRenderers)
    for pid in renderer_pids(service):
        os.kill(pid, signal.SIGKILL)
    time.sleep(0.5)
    with pytest.raises(RetryableError, match="renderer process died"):
        service.render(job, RenderRequest(record, period="2026-11", idempotency_key="during"))
    assert renderers.replacements == 1
    again = service.render(job, RenderRequest(record, period="2026-11", idempotency_key="after"))
    assert again.ok and again.created
