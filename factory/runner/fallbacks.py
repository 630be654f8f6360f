"""Late refusals: DSNs in a mailbox and delivery reports already recorded, turned into each
record's one fallback.

Takes a job, settings, a period and optionally a mailbox (a Maildir folder or an mbox file of
delivery status notifications); gives a `FallbackSummary`. Each DSN is read by `flufl.bounce`
(the permanently failed original recipients); each recipient's sent email of the job and
period becomes ``bounced`` with the cause (`factory.archive.bounces`). Then every ``bounced``
message of the job and period goes through the pipeline again under a run of its own
(executor ``fallbacks``): the record, read back from the snapshot archived with the message,
is processed by the `Worker` as in a batch, which skips what is done and sends the message,
once, over the next usable channel of its route (`factory.pipeline.fallback`). Running it
again changes nothing: bounced rows are then ``fell_back``, and a DSN seen before matches no
``sent`` row.
"""

from __future__ import annotations

import json
import mailbox
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flufl.bounce import scan_message

from factory.archive import open_index, open_store, record_snapshot_key
from factory.archive.index import run_owner
from factory.config import Settings
from factory.errors import InputError
from factory.jobs import JobSpec
from factory.models import Position, Record, RunReport
from factory.pipeline import WorkerConfig
from factory.runner.accounting import RunState
from factory.runner.run import RunOptions, new_run_id, prepare


@dataclass
class FallbackSummary:
    job: str
    period: str
    dsn_messages: int = 0
    dsn_matched: int = 0
    pending: int = 0
    run_id: str | None = None
    outcomes: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def process_fallbacks(job: JobSpec, settings: Settings, period: str,
                      mailbox_path: Path | None = None, actor: str = "system"
                      ) -> FallbackSummary:
    prepared = prepare(job, settings, RunOptions(period=period))
    summary = FallbackSummary(job.name, prepared.period.code)
    index = open_index(prepared.index_url)
    try:
        if mailbox_path is not None:
            _scan(index, job, summary, mailbox_path)
        rows = index.deliveries.bounced(job.name, summary.period)
        summary.pending = len(rows)
        if not rows:
            return summary
        run_id = summary.run_id = new_run_id()
        index.runs.start_run(run_id, job.name, summary.period, executor="fallbacks",
                             workers=1, template_version=prepared.templates.version,
                             dry_run=False, owner=run_owner(), actor=actor)
        report = RunReport(run_id=run_id, job=job.name, period=summary.period, dry_run=False,
                           started_at=datetime.now(UTC), executor="fallbacks",
                           template_version=prepared.templates.version)
        state = RunState(report, settings.runs_dir / run_id)
        from factory.pipeline.worker import Worker

        worker = Worker(WorkerConfig(
            job_path=str(job.path), settings=settings, run_id=run_id, period=summary.period,
            issued=prepared.issued, store_url=prepared.store_url, index_url=prepared.index_url,
            template_version=prepared.templates.version, email_url=prepared.email_url,
            sms_url=prepared.sms_url, peppol_url=prepared.peppol_url, job_text=job.text,
            actor=actor))
        store = open_store(prepared.store_url)
        try:
            for n, row in enumerate(rows, 1):
                record = _record(store.get(record_snapshot_key(str(row.storage_key))), n)
                state.counts.input += 1
                state.planned_record(record, job.document_type)
                outcome = worker.process(record)
                state.outcome(outcome)
                summary.outcomes.append({"record_key": record.key, "status":
                                         outcome.status.value, "reason": outcome.reason,
                                         "channels": {c.channel: c.status.value
                                                      for c in outcome.channels}})
        finally:
            worker.close()
            state.settle()
            report.finished_at = datetime.now(UTC)
            index.runs.finish_run(run_id, report.status, report.as_dict())
        return summary
    finally:
        index.close()


def _scan(index: Any, job: JobSpec, summary: FallbackSummary, path: Path) -> None:
    if not path.exists():
        raise InputError(f"{path}: mailbox not found (a Maildir folder or an mbox file)")
    box: Any = mailbox.Maildir(str(path), create=False) if path.is_dir() else \
        mailbox.mbox(str(path), create=False)
    for message in box:
        summary.dsn_messages += 1
        for address in scan_message(message):
            recipient = address.decode("utf-8", "replace")
            for row in index.deliveries.sent_to(job.name, summary.period, "email", recipient):
                if index.deliveries.mark_bounced(row.delivery_key,
                                f"bounced (DSN): permanent failure for {recipient}"):
                    summary.dsn_matched += 1


def _record(snapshot: bytes, n: int) -> Record:
    body = json.loads(snapshot)
    source = body.get("source") or {}
    return Record(key=str(body["record_key"]), customer_id=str(body["customer_id"]),
                  locale=str(body["locale"]),
                  position=Position(str(source.get("name") or "snapshot"),
                                    int(source.get("index") or n), source.get("line")),
                  data=body["record"])
