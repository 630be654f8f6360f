"""Segments that pick a template variant (``variant = "premium"`` in ``[[segments]]``, declared
under ``[variants]`` of the set's ``set.toml``): an unknown variant is a job error naming the
segment and the variant; a real run (real WeasyPrint rendering, read back from the archived
PDFs) renders a segment's records with its variant and the others without; the dry run shows
the variant beside the segment's count; proofs pick a record of every variant; the template
version and snapshot cover the variant's file; the on-demand path renders the variant too."""

from __future__ import annotations

import csv
import json
import shutil
import zipfile
from decimal import Decimal
from io import BytesIO
from pathlib import Path

import pytest
from click.testing import CliRunner

from factory.archive import open_index, open_store
from factory.cli.app import cli, load_commands
from factory.config import Settings, load_settings
from factory.errors import ConfigError
from factory.executors import InlineExecutor
from factory.jobs import RecordSchema, load_job
from factory.ondemand.service import OnDemandService, RenderRequest
from factory.proofs.select import select_records
from factory.runner import RunOptions, run_job
from factory.sources import open_source
from factory.templates import TemplateSet
from tests.conftest import REPO, csv_source, pdf_text, write_job

load_commands()

PREMIUM_TEXT = "Your personal adviser is at your service"
#: The variant's text in every language of the job (templates/statement/i18n/*.po).
PREMIUM_TEXTS = (PREMIUM_TEXT, "Váš osobní bankéř", "Váš osobný bankár",
                 "Ваш персональний радник", "Вашият личен съветник")
SEGMENTS = [{"name": "wealthy", "where": "opening_balance >= 1000", "variant": "premium"},
            {"name": "rest", "where": "True"}]


def sample(sample_dir: Path) -> dict:
    return {"source": csv_source(sample_dir / "customers.csv", sample_dir / "transactions.csv")}


def wealthy_keys(sample_dir: Path) -> tuple[set[str], set[str]]:
    with (sample_dir / "customers.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    wealthy = {r["customer_id"] for r in rows if Decimal(r["opening_balance"]) >= 1000}
    return wealthy, {r["customer_id"] for r in rows} - wealthy


@pytest.mark.fast
def test_an_unknown_variant_is_a_job_error_naming_segment_and_variant(
        tmp_path: Path, sample_dir: Path, settings: Settings) -> None:
    segments = [{"name": "gold", "where": "True", "variant": "platinum"}]
    job = load_job(write_job(tmp_path, segments=segments, **sample(sample_dir)))
    with pytest.raises(ConfigError) as caught:
        run_job(job, settings, RunOptions(period="2026-11", dry_run=True), InlineExecutor())
    text = str(caught.value)
    assert "segment 'gold'" in text and "'platinum'" in text and "premium" in text
    env = {"FACTORY_VAR": str(settings.var_dir), "FACTORY_HOME": str(settings.root)}
    out = CliRunner().invoke(cli, ["run", str(job.path), "--period", "2026-11", "--dry-run"],
                             env=env)
    assert out.exit_code != 0 and "platinum" in out.output and "Traceback" not in out.output


@pytest.mark.fast
def test_a_variant_whose_template_is_missing_is_refused(tmp_path: Path) -> None:
    templates = tmp_path / "templates"
    shutil.copytree(REPO / "templates", templates)
    manifest = templates / "statement" / "set.toml"
    manifest.write_text(manifest.read_text(encoding="utf-8").replace(
        'premium = "premium.html"', 'premium = "gone.html"'), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"gone\.html: template of variant 'premium' missing"):
        TemplateSet.load(templates, REPO / "assets", "statement", "northwind")


@pytest.mark.fast
def test_the_template_version_and_snapshot_cover_the_variant(tmp_path: Path) -> None:
    templates = tmp_path / "templates"
    shutil.copytree(REPO / "templates", templates)
    before = TemplateSet.load(templates, REPO / "assets", "statement", "northwind").version
    snapshot = TemplateSet.load(templates, REPO / "assets", "statement", "northwind").snapshot()
    with zipfile.ZipFile(BytesIO(snapshot)) as archive:
        assert "templates/statement/premium.html" in archive.namelist()
    variant = templates / "statement" / "premium.html"
    variant.write_text(variant.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    after = TemplateSet.load(templates, REPO / "assets", "statement", "northwind")
    assert after.version != before


def test_a_segments_records_are_rendered_with_its_variant_and_only_they(
        tmp_path: Path, sample_dir: Path, settings: Settings) -> None:
    wealthy, rest = wealthy_keys(sample_dir)
    assert wealthy and rest, "the sample must have customers on both sides"
    job = load_job(write_job(tmp_path, segments=SEGMENTS, **sample(sample_dir)))
    report = run_job(job, settings, RunOptions(period="2026-11"), InlineExecutor())
    assert report.balanced and report.counts.archived == len(wealthy) + len(rest)
    assert report.segments == {"wealthy": len(wealthy), "rest": len(rest)}
    assert report.variants == {"wealthy": "premium"}
    index = open_index(settings.default_index_url)
    store = open_store(settings.default_archive_url)
    try:
        entries = list(index.documents.entries(job="monthly_statements", period="2026-11"))
    finally:
        index.close()
    assert {e.record_key for e in entries} == wealthy | rest
    for entry in entries:
        text = " ".join(pdf_text(store.get(entry.storage_key)).split())
        assert entry.record_key in text  # the statement itself is there in both
        premium = any(phrase in text for phrase in PREMIUM_TEXTS)
        assert premium == (entry.record_key in wealthy), entry.record_key


def test_the_dry_run_shows_each_segments_variant(tmp_path: Path, sample_dir: Path,
                                                 settings: Settings) -> None:
    wealthy, rest = wealthy_keys(sample_dir)
    path = write_job(tmp_path, segments=SEGMENTS, **sample(sample_dir))
    env = {"FACTORY_VAR": str(settings.var_dir), "FACTORY_HOME": str(settings.root)}
    out = CliRunner().invoke(cli, ["run", str(path), "--period", "2026-11", "--dry-run"],
                             env=env, catch_exceptions=False)
    assert out.exit_code == 0, out.output
    flat = " ".join(out.output.split())
    assert f"wealthy {len(wealthy)} (variant premium)" in flat
    assert f"rest {len(rest)}" in flat and "rest {len(rest)} (variant" not in flat


@pytest.mark.fast
def test_proofs_pick_a_record_of_every_variant(tmp_path: Path, sample_dir: Path,
                                               settings: Settings) -> None:
    wealthy, _rest = wealthy_keys(sample_dir)
    job = load_job(write_job(tmp_path, segments=SEGMENTS, **sample(sample_dir)))
    selection = select_records(open_source(job, settings), RecordSchema(job), job)
    picked = [p for p in selection.records if "variant premium (segment wealthy)" in p.reasons]
    assert len(picked) == 1 and picked[0].key in wealthy


def test_on_demand_renders_the_record_with_its_segments_variant(
        tmp_path: Path, sample_dir: Path) -> None:
    settings = load_settings(REPO, {}, var_dir=str(tmp_path / "var"), workers=1)
    job = load_job(write_job(tmp_path, segments=SEGMENTS, **sample(sample_dir)))
    base = {"customer_id": "C000001", "name": "Eva Nováková", "locale": "en",
            "address_line1": "Dlouhá 1", "postal_code": "110 00", "city": "Praha",
            "country": "CZ", "account_iban": "CZ6508000000192000145399", "currency": "CZK",
            "transactions": []}
    service = OnDemandService(settings)
    try:
        texts = {}
        for key, balance in (("C000001", "5000.00"), ("C000002", "10.00")):
            data = {**base, "customer_id": key, "opening_balance": balance}
            result = service.render(job, RenderRequest(data, period="2026-11"))
            assert result.ok and result.document_id, result.as_dict()
            texts[key] = " ".join(pdf_text(service.pdf(job, result.document_id)).split())
        run_id = result.run_id
    finally:
        service.close()
    index = open_index(settings.default_index_url)
    try:
        run = index.runs.get(run_id)
    finally:
        index.close()
    assert run is not None and run.report is not None
    assert run.report["segments"] == {"wealthy": 1, "rest": 1}
    assert run.report["variants"] == {"wealthy": "premium"}
    assert PREMIUM_TEXT in texts["C000001"]
    assert PREMIUM_TEXT not in texts["C000002"] and "C000002" in texts["C000002"]


def test_a_proof_against_a_version_before_the_variant_shows_it_as_the_change(
        tmp_path: Path) -> None:
    from tests.proofkit import (
        TWO_CUSTOMERS,
        commit,
        make_project,
        proof_job,
        write_records,
    )

    project = make_project(tmp_path / "project")
    manifest = project / "templates" / "statement" / "set.toml"
    with_variant = manifest.read_text(encoding="utf-8")
    manifest.write_text(with_variant.split("\n# Variants")[0] + "\n", encoding="utf-8")
    (project / "templates" / "statement" / "premium.html").rename(tmp_path / "premium.html")
    commit(project, "the statement before it had variants")
    manifest.write_text(with_variant, encoding="utf-8")
    (tmp_path / "premium.html").rename(project / "templates" / "statement" / "premium.html")
    records = write_records(tmp_path / "data" / "customers.jsonl", TWO_CUSTOMERS)
    job = proof_job(tmp_path / "jobs", records, segments=[
        {"name": "english", "where": "locale == 'en'", "variant": "premium"},
        {"name": "rest", "where": "True"}])
    out = tmp_path / "proof"
    result = CliRunner().invoke(
        cli, ["proof", str(job), "--against", "HEAD", "--period", "2026-11", "--out", str(out)],
        env={"FACTORY_HOME": str(project), "FACTORY_VAR": str(tmp_path / "var"),
             "FACTORY_WORKERS": "1"}, catch_exceptions=False)
    assert result.exit_code == 1, result.output  # changed, nothing failing
    report = json.loads((out / "report.json").read_text())
    by_key = {r["key"]: r for r in report["records"]}
    assert by_key["C000001"]["changed"] and by_key["C000001"]["text_diff_lines"] > 0
    assert "variant premium (segment english)" in by_key["C000001"]["reasons"]
    assert not by_key["C000002"]["changed"]
