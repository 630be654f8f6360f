"""The letter desk (`factory.ondemand.letters`) with real rendering and a real archive: a set
that needs no second person sends a letter as it is submitted, through the on-demand path
(one document; sending it again gives the same one, never a second); a letter job is checked
by ``validate`` with its blocks' sample texts and refused as a batch run; a record posted as
JSON is validated by the job's schema, naming the field; ``proof`` and ``preview`` render the
sample texts, and a changed sample is a changed record in the proof."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from pypdf import PdfReader

from factory.archive import open_index, open_store
from factory.archive.audit import Actor
from factory.archive.versions import keep_version
from factory.cli.app import cli, load_commands
from factory.config import Settings, load_settings
from factory.errors import ConfigError, RecordError
from factory.executors import InlineExecutor
from factory.jobs import load_job
from factory.ondemand import OnDemandService
from factory.ondemand.letters import LetterDesk, letter_jobs
from factory.runner import RunOptions, run_job
from factory.runner.preflight import check_job
from factory.samples.customers import generate
from factory.templates import TemplateSet
from factory.templates.blocks import LETTER_KEY
from tests.api.letters_site import JOB
from tests.conftest import REPO

AGENT = Actor("key:agent0000001", "agent")


def project(root: Path, four_eyes: bool) -> tuple[Settings, Path]:
    shutil.copytree(REPO / "templates", root / "templates")
    shutil.copytree(REPO / "assets", root / "assets")
    manifest = root / "templates" / JOB / "set.toml"
    manifest.write_text(manifest.read_text(encoding="utf-8").replace(
        "require_second_person = true", f"require_second_person = {str(four_eyes).lower()}"),
        encoding="utf-8")
    generate(3, root / "var" / "sample", seed=11, period="2026-11", fmt="csv")
    (root / "jobs").mkdir()
    job = root / "jobs" / f"{JOB}.toml"
    shutil.copy(REPO / "jobs" / f"{JOB}.toml", job)
    return load_settings(root, {}, var_dir=str(root / "var"), workers=1), job


def test_without_a_second_person_a_letter_is_sent_as_submitted(tmp_path: Path) -> None:
    settings, path = project(tmp_path, four_eyes=False)
    job = letter_jobs({JOB: load_job(path)}, settings)[JOB]
    assert not job.four_eyes
    index = open_index(settings.default_index_url)
    service = OnDemandService(settings)
    try:
        desk = LetterDesk(settings, index, service)
        record = desk.record_by_key(job, "C000003")
        row = desk.submit(job, record, {"answer": "<b>Sorry</b>", "remedy": "A refund."}, AGENT)
        assert row.status == "sent" and row.document_id and row.reviewer is None
        again = desk.send(job, row, AGENT)  # a second click: the same letter, nothing new
        assert again.status == "sent" and again.document_id == row.document_id
        pdfs = [e for e in index.documents.entries(job=JOB) if e.channel == "pdf"]
        assert [e.document_id for e in pdfs] == [row.document_id]
        assert pdfs[0].record_key.startswith("C000003.k")  # the letter's own slot
        with pytest.raises(RecordError) as caught:
            desk.record_from_json(job, '{"customer_id": "C000009", "name": "X"}')
        assert caught.value.field == "address_line1"
        sends = [e for e in index.audit.entries() if e.action == "letter.send"]
    finally:
        service.close()
        index.close()
    assert len(sends) == 1 and sends[0].actor == AGENT.id
    assert pdfs[0].record_storage_key
    kept = json.loads(open_store(settings.default_archive_url).get(pdfs[0].record_storage_key))
    assert kept["record"][LETTER_KEY]["blocks"] == {"answer": "<p><b>Sorry</b></p>",
                                                    "remedy": "<p>A refund.</p>"}
    assert kept["record"][LETTER_KEY]["author"] == AGENT.id


def test_a_letter_job_validates_with_samples_and_is_refused_in_batch(tmp_path: Path) -> None:
    settings, path = project(tmp_path, four_eyes=True)
    checked = check_job(path, settings)
    assert checked.problems == [] and checked.records_checked == 3
    with pytest.raises(ConfigError, match="writes interactive letters"):
        run_job(load_job(path), settings, RunOptions(period="2026-12"), InlineExecutor())
    load_commands()
    record = tmp_path / "record.json"
    record.write_text(json.dumps({"customer_id": "C000001"}), encoding="utf-8")
    refused = CliRunner().invoke(cli, ["render", str(path), "--record-json", str(record)],
                                 env={"FACTORY_HOME": str(tmp_path),
                                      "FACTORY_VAR": str(settings.var_dir)},
                                 catch_exceptions=False)
    assert refused.exit_code == 2, refused.output
    assert "writes interactive letters" in refused.output
    index = open_index(settings.default_index_url)
    try:
        assert list(index.documents.entries(job=JOB)) == [] and index.runs.recent(JOB) == []
    finally:
        index.close()


def test_proofs_and_preview_of_a_letter_set_show_its_sample_texts(tmp_path: Path) -> None:
    """Proofs and template versions apply to a letter set like to any: a wording change of a
    sample text is a changed record in the proof against the archived version."""
    load_commands()
    settings, path = project(tmp_path / "project", four_eyes=True)
    env = {"FACTORY_HOME": str(tmp_path / "project"), "FACTORY_VAR": str(settings.var_dir),
           "FACTORY_WORKERS": "1"}
    current = TemplateSet.load(settings.templates_dir, settings.assets_dir, JOB, "northwind")
    index = open_index(settings.default_index_url)
    try:
        keep_version(open_store(settings.default_archive_url), index, current)
    finally:
        index.close()
    out = tmp_path / "preview.pdf"
    shown = CliRunner().invoke(cli, ["preview", str(path), "--record", "C000001", "-o",
                                     str(out)], env=env, catch_exceptions=False)
    assert shown.exit_code == 0, shown.output
    same = CliRunner().invoke(cli, ["proof", str(path), "--against", current.version[:12],
                                    "--period", "2026-11", "--out", str(tmp_path / "p0")],
                              env=env, catch_exceptions=False)
    assert same.exit_code == 0, same.output
    manifest = settings.templates_dir / JOB / "set.toml"
    manifest.write_text(manifest.read_text(encoding="utf-8").replace(
        "within five working days", "by tomorrow"), encoding="utf-8")
    changed = CliRunner().invoke(cli, ["proof", str(path), "--against", current.version,
                                       "--period", "2026-11", "--out", str(tmp_path / "p1")],
                                 env=env, catch_exceptions=False)
    assert changed.exit_code == 1, changed.output
    report = json.loads((tmp_path / "p1" / "report.json").read_text(encoding="utf-8"))
    assert report["records"] and all(r["text_diff_lines"] > 0 for r in report["records"])
    text = PdfReader(out).pages[0].extract_text()
    assert "refund the fee to your account within five working days" in text


def test_the_retention_purge_of_a_sent_letter_removes_its_letter_row(tmp_path: Path) -> None:
    """The letters row keeps the record and the blocks the letter was written from: when the
    retention purge deletes the document, the row goes in the same transaction (audited)."""
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import update

    from factory.archive.tables import documents

    settings, path = project(tmp_path, four_eyes=False)
    job = letter_jobs({JOB: load_job(path)}, settings)[JOB]
    index = open_index(settings.default_index_url)
    service = OnDemandService(settings)
    try:
        desk = LetterDesk(settings, index, service)
        row = desk.submit(job, desk.record_by_key(job, "C000002"), {"answer": "Sorry",
                                                                    "remedy": "Refund"}, AGENT)
        other = desk.submit(job, desk.record_by_key(job, "C000003"), {"answer": "Hello",
                                                                      "remedy": "None"}, AGENT)
        assert row.document_id and other.document_id
        now = datetime.now(UTC)
        assert not index.holds.purge(row.document_id, now, AGENT, {})  # not expired yet
        assert index.letters.get(row.letter_id) is not None
        with index.engine.begin() as conn:
            conn.execute(update(documents).where(documents.c.document_id == row.document_id)
                         .values(retention_until=now - timedelta(days=1)))
        assert index.holds.purge(row.document_id, now, AGENT, {"why": "test"})
        assert index.letters.get(row.letter_id) is None
        assert index.letters.get(other.letter_id) is not None  # another letter stays
        purge = [e for e in index.audit.entries() if e.action == "archive.purge"]
        assert [json.loads(e.details) for e in purge] == [{"why": "test", "letters": 1}]
    finally:
        service.close()
        index.close()
