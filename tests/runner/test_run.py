"""Runs end to end with real rendering: every record archived, rejected, failed or skipped,
and the report proves it. Reruns skip; --force makes a new revision; nothing is lost."""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
from datetime import date
from pathlib import Path

import pytest

from factory.config import Settings
from factory.errors import ConfigError, SourceError
from factory.executors import InlineExecutor
from factory.jobs import load_job
from factory.models import Outcome
from factory.pipeline import WorkerConfig
from factory.runner import RunOptions, run_job
from tests.conftest import REPO, csv_source, pdf_text, write_job


def run(job, settings: Settings, **options: object):
    return run_job(job, settings, RunOptions(period="2026-11", **options), InlineExecutor())


def archive_files(settings: Settings, suffix: str = ".pdf") -> list[Path]:
    return sorted((settings.var_dir / "archive").rglob(f"*{suffix}"))


def test_batch_end_to_end_then_resume_then_force(sample_job, settings: Settings) -> None:
    report = run(sample_job, settings)
    counts = report.counts
    assert (counts.input, counts.archived, counts.rendered, counts.rejected, counts.failed) == \
        (12, 12, 12, 0, 0)
    assert report.balanced and report.status == "completed"
    assert counts.pages >= 12
    assert sum(report.by_locale.values()) == 12

    from factory.archive import open_index, open_store
    index = open_index(settings.default_index_url)
    store = open_store(settings.default_archive_url)
    entries = list(index.documents.entries(job="monthly_statements", period="2026-11"))
    assert len(entries) == 12 == len(archive_files(settings))
    for entry in entries:
        data = store.get(entry.storage_key)
        assert hashlib.sha256(data).hexdigest() == entry.sha256 == entry.sha256
        assert entry.storage_key.startswith(f"monthly_statements/2026-11/{entry.record_key}/"
                                            f"{entry.document_id}.")
        assert entry.storage_key.endswith(".pdf")
        assert entry.template_version == report.template_version
        assert entry.retention_until.year == entry.created_at.year + 10
        snapshot = json.loads(store.get(entry.record_storage_key))
        assert snapshot["record"]["customer_id"] == entry.record_key
        assert snapshot["template_version"] == entry.template_version
        assert entry.record_key in pdf_text(data)
    assert store.exists(f"_template-sets/{report.template_version}.zip")

    saved = json.loads((settings.runs_dir / report.run_id / "report.json").read_text())
    assert saved["reconciliation"]["balanced"] is True
    assert saved["counts"]["archived"] == 12
    assert index.runs.get(report.run_id).status == "completed"

    again = run(sample_job, settings)
    assert (again.counts.skipped, again.counts.archived, again.counts.rendered) == (12, 0, 0)
    assert again.balanced

    first = entries[0]
    with pytest.raises(ConfigError, match="--reason"):
        run(sample_job, settings, force=True, limit=1)
    forced = run(sample_job, settings, force=True, limit=1, force_reason="address corrected",
                 actor="cli:ops", actor_role="shell")
    assert forced.counts.archived == 1
    # Revision 2 is current; revision 1 stays stored, indexed and provable beside it.
    (current,) = list(index.documents.entries(record_key=first.record_key))
    assert current.revision == 2 and current.document_id != first.document_id
    old = index.documents.get(first.document_id)
    assert old is not None and old.superseded_by == current.document_id
    assert (old.superseded_actor, old.supersede_reason) == ("cli:ops", "address corrected")
    assert store.exists(first.storage_key) and store.exists(first.record_storage_key)
    assert hashlib.sha256(store.get(first.storage_key)).hexdigest() == first.sha256
    assert len(archive_files(settings)) == 13
    every = index.documents.entries(record_key=first.record_key, revisions=True)
    assert [e.revision for e in every] == [1, 2]
    from factory.compliance.audit import AuditLog
    [entry] = [e for e in AuditLog(index).entries() if e.action == "document.supersede"]
    assert (entry.document_id, entry.actor, entry.run_id) == \
        (first.document_id, "cli:ops", forced.run_id)
    assert index.runs.get(forced.run_id).reason == "address corrected"


def test_dry_run_plans_without_rendering(sample_job, settings: Settings) -> None:
    report = run(sample_job, settings, dry_run=True)
    assert report.counts.input == 12 and report.counts.pending == 12
    assert report.counts.rendered == 0 and report.balanced
    assert archive_files(settings) == []
    run(sample_job, settings, limit=5)
    report = run(sample_job, settings, dry_run=True)
    assert (report.counts.skipped, report.counts.pending) == (5, 7)


def bad_input(folder: Path, sample_dir: Path) -> Path:
    """The sample customers plus one of each kind of bad row."""
    folder.mkdir(parents=True, exist_ok=True)
    with (sample_dir / "customers.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    header = list(rows[0])
    good = rows[:4]
    wrong_type = dict(rows[4], opening_balance="lots")
    missing = dict(rows[5], city="")
    duplicate = dict(rows[0])
    injected = dict(rows[6], name='<img src="file:///etc/passwd"> url(file:///etc/shadow)')
    path = folder / "customers.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, header)
        writer.writeheader()
        for row in [*good, wrong_type, missing, duplicate, injected]:
            writer.writerow(row)
    with path.open("ab") as handle:
        raw = dict(rows[7], name="Nov\udce1k")
        handle.write(",".join(str(raw[h]) for h in header).encode("utf-8", "surrogateescape")
                     + b"\n")
        handle.write(b'C999999,"Broken "quote,x\n')
        handle.write(",".join(str(rows[8][h]) for h in header).encode() + b"\n")
    return path


def test_bad_records_are_rejected_with_reasons_and_the_rest_archived(
        tmp_path: Path, sample_dir: Path, settings: Settings) -> None:
    customers = bad_input(tmp_path / "data", sample_dir)
    job = load_job(write_job(tmp_path / "jobs", source=csv_source(
        customers, sample_dir / "transactions.csv")))
    report = run(job, settings)
    c = report.counts
    assert c.input == 11
    assert (c.archived, c.rejected, c.failed) == (6, 5, 0)
    assert report.balanced
    rejects = [json.loads(line) for line in Path(report.rejects_file).read_text().splitlines()]
    by_line = {r["line"]: r for r in rejects}
    assert by_line[6]["field"] == "opening_balance"
    assert "expected a decimal number" in by_line[6]["reason"]
    assert by_line[7]["field"] == "city" and "required, but empty" in by_line[7]["reason"]
    assert by_line[8]["field"] == "customer_id"
    assert "duplicate record key, first seen at customers.csv:2" in by_line[8]["reason"]
    assert by_line[10]["field"] == "name" and "not valid UTF-8" in by_line[10]["reason"]
    assert "malformed CSV" in by_line[11]["reason"]
    assert all(r["source"] == "customers.csv" for r in rejects)
    assert not list((settings.var_dir / "archive").rglob("*.tmp"))


def test_template_error_fails_records_with_template_and_line(
        tmp_path: Path, sample_job, settings: Settings) -> None:
    shutil.copytree(REPO / "templates", tmp_path / "templates")
    page = tmp_path / "templates" / "statement" / "document.html"
    page.write_text(page.read_text(encoding="utf-8").replace(
        "{{ record.account_iban | iban }}", "{{ record.account_number }}"), encoding="utf-8")
    settings = settings.with_overrides(templates_dir=tmp_path / "templates")
    report = run(sample_job, settings, limit=3)
    assert (report.counts.failed, report.counts.archived) == (3, 0)
    assert report.balanced
    failures = [json.loads(x) for x in Path(report.failures_file).read_text().splitlines()]
    assert "document.html:" in failures[0]["reason"]
    assert "account_number" in failures[0]["reason"]
    assert archive_files(settings) == []
    from factory.archive import open_index
    assert open_index(settings.default_index_url).claims.held() == 0


def test_missing_column_stops_before_anything_runs(tmp_path: Path, sample_dir: Path,
                                                    settings: Settings) -> None:
    path = tmp_path / "c.csv"
    lines = (sample_dir / "customers.csv").read_text(encoding="utf-8").splitlines()
    path.write_text("\n".join(line.rsplit(",", 4)[0] for line in lines) + "\n",
                    encoding="utf-8")
    job = load_job(write_job(tmp_path / "jobs", source=csv_source(path, None)))
    with pytest.raises(SourceError, match=r"c.csv: missing column\(s\) opening_balance"):
        run(job, settings)


def test_empty_input_file(tmp_path: Path, settings: Settings) -> None:
    (tmp_path / "c.csv").write_text("", encoding="utf-8")
    job = load_job(write_job(tmp_path / "jobs", source=csv_source(tmp_path / "c.csv", None)))
    with pytest.raises(SourceError, match="empty"):
        run(job, settings)


class InterruptAfter(InlineExecutor):
    """Processes ``chunks`` chunks, then behaves as if Ctrl-C was pressed."""

    def __init__(self, chunks: int) -> None:
        self.left = chunks

    def map(self, config: WorkerConfig, chunks):
        for outcomes in super().map(config, chunks):
            yield outcomes
            self.left -= 1
            if self.left == 0:
                raise KeyboardInterrupt


def test_interrupted_run_reports_pending_and_resumes_without_gap_or_duplicate(
        sample_job, settings: Settings) -> None:
    options = RunOptions(period="2026-11", chunk_size=2)
    report = run_job(sample_job, settings, options, InterruptAfter(2))
    assert report.interrupted and report.status == "interrupted"
    assert report.counts.archived == 4
    assert report.counts.input == report.counts.accounted
    assert report.balanced
    resumed = run_job(sample_job, settings, options, InlineExecutor())
    assert resumed.counts.skipped == 4 and resumed.counts.archived == 8
    from factory.archive import open_index
    index = open_index(settings.default_index_url)
    assert index.documents.count("monthly_statements", "2026-11") == 12
    assert len(archive_files(settings)) == 12


class LosesRecords(InlineExecutor):
    """A broken executor that drops the last record of every chunk."""

    def map(self, config: WorkerConfig, chunks):
        for chunk in chunks:
            outcomes: list[Outcome] = next(super().map(config, iter([chunk[:-1]]))) \
                if len(chunk) > 1 else []
            yield outcomes


def test_a_run_that_loses_records_does_not_balance(sample_job, settings: Settings) -> None:
    report = run_job(sample_job, settings, RunOptions(period="2026-11", chunk_size=4),
                     LosesRecords())
    assert report.counts.pending == 3
    assert not report.balanced


def test_crash_between_store_and_index_leaves_one_document(sample_job, settings: Settings,
                                                           monkeypatch) -> None:
    """A worker fails after writing the PDF but before the index row (here: after the first
    record's row went in, inside its task's completion): its objects (under its own attempt's
    name) are removed with its claim, and the rerun's index gets exactly one row per record
    and the archive one PDF per row."""
    from factory.archive.claims import ClaimRepository

    calls = {"n": 0}
    real_complete = ClaimRepository.complete

    def crash_once(self, claim, entry, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise SystemExit("simulated crash")
        return real_complete(self, claim, entry, *args, **kwargs)

    real_many = ClaimRepository.complete_many

    def crash_in_task(self, completions):  # the task's one completion transaction
        calls["n"] += 1
        if calls["n"] == 1:
            real_many(self, completions[:1])  # the first record's row goes in
        raise SystemExit("simulated crash")

    monkeypatch.setattr(ClaimRepository, "complete", crash_once)
    monkeypatch.setattr(ClaimRepository, "complete_many", crash_in_task)
    with pytest.raises(SystemExit):
        run(sample_job, settings, limit=3)
    from factory.archive import open_index as reopen
    (crashed,) = reopen(settings.default_index_url).runs.recent()
    assert crashed.status == "failed"
    assert reopen(settings.default_index_url).documents.count("monthly_statements", "2026-11") == 1
    monkeypatch.setattr(ClaimRepository, "complete", real_complete)
    monkeypatch.setattr(ClaimRepository, "complete_many", real_many)
    report = run(sample_job, settings, limit=3)
    assert report.counts.archived + report.counts.skipped == 3
    from factory.archive import open_index
    index = open_index(settings.default_index_url)
    assert index.documents.count("monthly_statements", "2026-11") == 3
    assert len(archive_files(settings)) == 3
    assert index.claims.held() == 0



@pytest.mark.parametrize("kind", ["jsonl", "sql"])
def test_same_batch_from_jsonl_and_from_sql(kind: str, tmp_path: Path, sample_dir: Path,
                                            settings: Settings) -> None:
    if kind == "jsonl":
        source = {"type": "jsonl", "path": str(sample_dir / "customers.jsonl")}
    else:
        source = {"type": "sql", "url": f"sqlite:///{sample_dir / 'customers.db'}",
                  "query": "SELECT * FROM customers", "key": "customer_id",
                  "items_query": "SELECT * FROM transactions", "items_key": "customer_id"}
    job = load_job(write_job(tmp_path / "jobs", source=source))
    report = run(job, settings, limit=3)
    assert (report.counts.input, report.counts.archived) == (3, 3) and report.balanced
    from factory.archive import open_index, open_store
    store = open_store(settings.default_archive_url)
    entry = next(open_index(settings.default_index_url).documents.entries(record_key="C000001"))
    text = pdf_text(store.get(entry.storage_key))
    assert "C000001" in text
    snapshot = json.loads(store.get(entry.record_storage_key))
    assert len(snapshot["record"]["transactions"]) >= 5


def test_workers_use_the_job_as_validated_not_the_file_edited_since(
        sample_job, settings: Settings, tmp_path: Path) -> None:
    """The job travels to workers as the text the coordinator validated (through the Celery
    payload too): a job file edited in the middle of a run cannot change half a batch."""
    from factory.executors.payload import decode_config, encode_config

    original = sample_job.path.read_text(encoding="utf-8")
    config = WorkerConfig(job_path=str(sample_job.path), settings=settings, run_id="r",
                          period="2026-11", issued=date(2026, 12, 1),
                          store_url="memory://", index_url="sqlite://", template_version="x",
                          job_text=load_job(sample_job.path).text)
    sample_job.path.write_text(original.replace('description = "', 'description = "EDITED '),
                               encoding="utf-8")
    try:
        for seen in (config, decode_config(json.loads(json.dumps(encode_config(config))))):
            job = seen.load_job()
            assert "EDITED" not in job.description and job.text == original
            assert job.path == sample_job.path.resolve()
        assert "EDITED" in load_job(sample_job.path).description  # the file did change
    finally:
        sample_job.path.write_text(original, encoding="utf-8")
