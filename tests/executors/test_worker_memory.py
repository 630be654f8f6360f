"""A per-worker memory cap (issue 14): a template expression that would take gigabytes fails
its record with a clear reason, the worker processes are replaced, and the batch goes on."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from factory.config import load_settings
from factory.errors import ConfigError
from factory.executors.limits import process_guarded
from factory.executors.pool import PoolExecutor
from factory.jobs import load_job
from factory.models import Outcome, Position, Record, Status
from factory.runner import RunOptions, run_job
from tests.conftest import REPO, csv_source, write_job
from tests.render.test_templates import copy_project

HOG = "{% if record.customer_id == 'C000003' %}{{ 'x' * 3000000000 }}{% endif %}"


def test_the_cap_makes_a_huge_allocation_a_memory_error_in_that_process() -> None:
    code = ("from factory.executors.limits import cap_memory; cap_memory(768 * 1024**2)\n"
            "try:\n    b = bytearray(1024**3)\nexcept MemoryError:\n    print('refused')\n"
            "small = bytearray(16 * 1024**2); print('still works', len(small))")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                          text=True, timeout=60)
    assert done.stdout.split("\n")[:2] == ["refused", f"still works {16 * 1024**2}"], done


class OutOfMemoryOnB:
    """A worker whose record "B" runs out of memory; its own task (`Worker.chunk`): nothing
    claimed together."""

    def chunk(self, records: list[Record], holder: str | None = None) -> OutOfMemoryOnB:
        return self

    def settle(self, outcomes: list[Outcome]) -> list[Outcome]:
        return outcomes

    def close(self) -> None:
        pass

    def process(self, record: Record, holder: str | None = None) -> Outcome:
        if record.key == "B":
            raise MemoryError
        return Outcome(record.key, record.position, Status.ARCHIVED)


def test_a_memory_error_fails_its_record_and_hands_back_the_rest() -> None:
    records = [Record(k, "en", {}, Position("c.csv", n, n + 1), k) for n, k in
               enumerate(["A", "B", "C"], start=1)]

    outcomes, rest = process_guarded(OutOfMemoryOnB(), records, 1024**3)
    assert [(o.key, o.status) for o in outcomes] == [("A", Status.ARCHIVED),
                                                     ("B", Status.FAILED)]
    assert outcomes[1].reason is not None and "1 GiB" in outcomes[1].reason
    assert outcomes[1].reason.startswith("memory limit:") and not outcomes[1].retryable
    assert rest == records[2:]
    assert process_guarded(OutOfMemoryOnB(), records[:1], None)[1] is None


def test_the_cap_is_configurable() -> None:
    assert load_settings(REPO, {}).worker_memory_bytes == 2 * 1024**3
    assert load_settings(REPO, {"FACTORY_WORKER_MEMORY": "1G"}).worker_memory_bytes == 1024**3
    assert load_settings(REPO, {"FACTORY_WORKER_MEMORY": "none"}).worker_memory_bytes is None
    with pytest.raises(ConfigError, match="too small"):
        load_settings(REPO, {"FACTORY_WORKER_MEMORY": "100M"})


def test_a_runaway_template_fails_one_record_the_pool_is_replaced_the_batch_goes_on(
        tmp_path: Path, sample_dir: Path) -> None:
    templates_dir, assets = copy_project(tmp_path)
    page = templates_dir / "statement" / "document.html"
    text = page.read_text(encoding="utf-8")
    page.write_text(text.replace("{% block content %}", "{% block content %}" + HOG, 1),
                    encoding="utf-8")
    job = load_job(write_job(tmp_path / "jobs", source=csv_source(
        sample_dir / "customers.csv", sample_dir / "transactions.csv")))
    settings = load_settings(REPO, {}, var_dir=str(tmp_path / "var"), workers=2)
    settings = settings.with_overrides(templates_dir=templates_dir, assets_dir=assets,
                                       worker_memory_bytes=1024**3)
    executor = PoolExecutor(2)
    report = run_job(job, settings, RunOptions(period="2026-11", chunk_size=2), executor)
    assert report.status == "completed" and report.balanced, report.as_dict()
    assert report.counts.failed == 1 and report.counts.archived == report.counts.input - 1
    (reason,) = report.failure_reasons
    assert reason.startswith("memory limit:") and "1 GiB" in reason
    assert executor.replacements == 1


def test_a_celery_task_fails_the_record_over_the_cap_and_goes_on(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import json
    from datetime import date
    from types import SimpleNamespace

    import factory.pipeline.worker as worker_module
    from factory.executors.celery_app import process_chunk
    from factory.executors.payload import decode_outcome, encode_config, encode_record
    from factory.pipeline import WorkerConfig

    monkeypatch.setattr(worker_module, "worker_for", lambda config: OutOfMemoryOnB())
    settings = load_settings(REPO, {}, var_dir=str(tmp_path / "var"))
    config = WorkerConfig(job_path=str(REPO / "jobs" / "monthly_statements.toml"),
                          settings=settings, run_id="r1", period="2026-11",
                          issued=date(2026, 12, 1), store_url="file:///tmp/x",
                          index_url="sqlite:///x.db", template_version="v")
    records = [Record(k, k, "en", Position("c.csv", n, n + 1), {}) for n, k in
               enumerate(["A", "B", "C"], start=1)]
    payload = json.loads(json.dumps({"config": encode_config(config),
                                     "records": [encode_record(r) for r in records]}))
    task = SimpleNamespace(request=SimpleNamespace(id="t1", retries=0), max_retries=2)
    outcomes = [decode_outcome(o) for o in process_chunk(task, payload)]
    assert [(o.key, o.status) for o in outcomes] == [
        ("A", Status.ARCHIVED), ("B", Status.FAILED), ("C", Status.ARCHIVED)]
    assert (outcomes[1].reason or "").startswith("memory limit:")


def test_a_celery_worker_process_caps_itself_at_start() -> None:
    code = ("import resource; from factory.config import load_settings; from pathlib import"
            " Path\nfrom factory.executors.celery_app import _cap_memory, configure_worker\n"
            "configure_worker(load_settings(Path('.'), {'FACTORY_WORKER_MEMORY': '768M'}))\n"
            "_cap_memory(); print(resource.getrlimit(resource.RLIMIT_DATA)[0])")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                          text=True, timeout=120)
    assert done.stdout.strip() == str(768 * 1024**2), done.stderr


def test_invoices_archive_in_capped_pool_workers(tmp_path: Path, settings) -> None:
    """The official e-invoice rules run in Saxon (saxonche), whose runtime reserves tens of
    GiB of address space at start: under an address-space cap (RLIMIT_AS) it could not start
    and every pool worker died, so an invoice run with the default settings archived nothing.
    The cap is on the data a process writes (RLIMIT_DATA): reservations do not count."""
    from tests.invoicing.test_invoices import base, invoice_job, line, write_invoices

    data = write_invoices(tmp_path / "data" / "invoices.jsonl", [
        base("I000801", lines=[line("2", "100.00")]),
        base("I000802", lines=[line("1", "12.50", "S", "12")]),
    ])
    job = load_job(invoice_job(tmp_path / "jobs", data))
    capped = settings.with_overrides(worker_memory_bytes=2 * 1024**3)
    report = run_job(job, capped, RunOptions(period="2026-11"), PoolExecutor(1))
    assert report.status == "completed" and report.balanced, report.as_dict()
    assert report.counts.archived == 2, report.failure_reasons
