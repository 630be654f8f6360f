"""The Celery task's soft time limit, cutting in while a task's completions wait for the task's
end (`factory.pipeline.chunk`): the records done before it have their documents indexed by the
task and count as archived; the record cut off fails, retryable, and holds no claim. Real
rendering, SQLite index, file store; the task function called in this process."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from celery.exceptions import SoftTimeLimitExceeded

from factory.archive import open_index
from factory.executors.payload import decode_outcome, encode_config, encode_record
from factory.models import Status
from tests.fixtures_cluster import task_worker_config


def test_a_time_limit_after_two_records_indexes_their_documents_and_fails_the_third(
        sample_job: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import factory.pipeline.worker as worker_module
    from factory.executors.celery_app import process_chunk
    from factory.pipeline.worker import Worker

    config, records = task_worker_config(sample_job, tmp_path, "run-limit", 3)
    worker = Worker(config)
    run_record = Worker.run_record

    def cut_off_at_the_third(self, record, *args, **kwargs):
        if record.key == records[2].key:
            raise SoftTimeLimitExceeded()
        return run_record(self, record, *args, **kwargs)

    monkeypatch.setattr(Worker, "run_record", cut_off_at_the_third)
    monkeypatch.setattr(worker_module, "worker_for", lambda config: worker)
    payload = json.loads(json.dumps({"config": encode_config(config),
                                     "records": [encode_record(r) for r in records]}))
    task = SimpleNamespace(request=SimpleNamespace(id="task-1", retries=0), max_retries=0,
                           soft_time_limit=1)
    index = open_index(config.index_url)
    try:
        outcomes = [decode_outcome(o) for o in process_chunk(task, payload)]
        assert [o.status for o in outcomes] == [Status.ARCHIVED, Status.ARCHIVED,
                                                Status.FAILED]
        assert outcomes[2].retryable and "time limit" in (outcomes[2].reason or "")
        keys = {e.record_key for e in index.documents.entries(job=sample_job.name)}
        assert keys == {records[0].key, records[1].key}
        assert index.claims.held() == 0
    finally:
        index.close()
        worker.close()
