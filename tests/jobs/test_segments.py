"""A job's ``where`` filter and named ``[[segments]]``: job errors naming the expression and the
field at load time; real runs (real rendering) that count "filtered out" per reason as a term
of the reconciliation and list the filtered keys in filtered.jsonl; the dry run's counts per
segment; a record the expression cannot be evaluated for rejected with the field named; and a
segment narrowing the channels routing gives its records."""

from __future__ import annotations

import csv
import json
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from factory.cli.app import cli, load_commands
from factory.config import Settings
from factory.errors import ConfigError
from factory.executors import InlineExecutor
from factory.jobs import RecordSchema, load_job
from factory.models import Position, RawRecord
from factory.routing import route_record
from factory.runner import RunOptions, run_job
from tests.conftest import csv_source, write_job

load_commands()

WHERE = "opening_balance > 0 and locale in ['cs', 'sk', 'en']"


def sample(sample_dir: Path) -> dict:
    return {"source": csv_source(sample_dir / "customers.csv", sample_dir / "transactions.csv")}


def customers(sample_dir: Path) -> list[dict[str, str]]:
    with (sample_dir / "customers.csv").open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def expected_where(rows: list[dict[str, str]]) -> set[str]:
    return {r["customer_id"] for r in rows
            if Decimal(r["opening_balance"]) > 0 and (r["locale"] or "en") in ("cs", "sk", "en")}


@pytest.mark.parametrize(("where", "named"), [
    ("balance_due > 0", "'balance_due' is not a field"),
    ("opening_balance >", "is not a valid expression"),
    ("__import__('os').system('true')", "only the functions"),
    ("opening_balance.real > 0", "no attribute access"),
])
def test_a_bad_filter_is_a_job_error_naming_expression_and_field(
        tmp_path: Path, sample_dir: Path, where: str, named: str) -> None:
    path = write_job(tmp_path, where=where, **sample(sample_dir))
    with pytest.raises(ConfigError) as caught:
        load_job(path)
    assert named in str(caught.value) and where in str(caught.value)


def test_a_segment_may_only_name_the_jobs_channels(tmp_path: Path, sample_dir: Path) -> None:
    path = write_job(tmp_path, segments=[{"name": "paper", "where": "True",
                                          "channels": ["print"]}], **sample(sample_dir))
    with pytest.raises(ConfigError, match="segment 'paper': channel"):
        load_job(path)
    path = write_job(tmp_path, segments=[{"name": "a", "where": "True"},
                                         {"name": "a", "where": "False"}], **sample(sample_dir))
    with pytest.raises(ConfigError, match="used twice"):
        load_job(path)


def test_where_filters_are_counted_listed_and_balanced(
        tmp_path: Path, sample_dir: Path, settings: Settings) -> None:
    job = load_job(write_job(tmp_path, where=WHERE, **sample(sample_dir)))
    rows = customers(sample_dir)
    taken = expected_where(rows)
    assert 0 < len(taken) < len(rows), "the sample must exercise both sides of the filter"
    report = run_job(job, settings, RunOptions(period="2026-11"), InlineExecutor())
    counts = report.counts
    assert counts.input == len(rows)
    assert counts.archived == len(taken)
    assert counts.filtered == len(rows) - len(taken)
    assert report.filtered_out == {"where": len(rows) - len(taken)}
    assert report.balanced, report.as_dict()
    line = report.as_dict()["reconciliation"]["line"]
    assert f"filtered out {len(rows) - len(taken)}" in line
    assert report.filtered_file is not None
    listed = [json.loads(x) for x in Path(report.filtered_file).read_text().splitlines()]
    assert {x["key"] for x in listed} == {r["customer_id"] for r in rows} - taken
    assert all(x["filtered_by"] == "where" for x in listed)


def test_segments_counted_in_dry_run_and_records_in_no_segment_filtered(
        tmp_path: Path, sample_dir: Path, settings: Settings) -> None:
    segments = [{"name": "czech", "where": "locale == 'cs'"},
                {"name": "big", "where": "opening_balance >= 1000"}]
    path = write_job(tmp_path, segments=segments, **sample(sample_dir))
    rows = customers(sample_dir)
    czech = [r for r in rows if r["locale"] == "cs"]
    big = [r for r in rows if r["locale"] != "cs" and Decimal(r["opening_balance"]) >= 1000]
    rest = len(rows) - len(czech) - len(big)
    assert czech and rest, "the sample must exercise the segments"
    env = {"FACTORY_VAR": str(settings.var_dir), "FACTORY_HOME": str(settings.root)}
    out = CliRunner().invoke(cli, ["run", str(path), "--period", "2026-11", "--dry-run"],
                             env=env, catch_exceptions=False)
    assert out.exit_code == 0, out.output
    assert f"czech {len(czech)}" in out.output and f"big {len(big)}" in out.output
    assert f"{rest} (no segment)" in out.output
    report = run_job(load_job(path), settings, RunOptions(period="2026-11", dry_run=True),
                     InlineExecutor())
    assert report.segments == {k: v for k, v in (("czech", len(czech)), ("big", len(big)))
                               if v}
    assert report.counts.filtered == rest and report.balanced


def test_a_record_the_filter_cannot_evaluate_is_rejected_naming_the_field(
        tmp_path: Path, sample_dir: Path, settings: Settings) -> None:
    job = load_job(write_job(tmp_path, where="phone > '+'", **sample(sample_dir)))
    rows = customers(sample_dir)
    without = [r for r in rows if not r.get("phone")]
    assert 0 < len(without) < len(rows), "the sample has customers with and without a phone"
    report = run_job(job, settings, RunOptions(period="2026-11"), InlineExecutor())
    assert report.counts.rejected == len(without)
    assert report.counts.archived == len(rows) - len(without)
    assert report.balanced
    rejects = [json.loads(x) for x in Path(report.rejects_file or "").read_text().splitlines()]
    assert {x["field"] for x in rejects} == {"phone"}
    assert all("phone > '+'" in x["reason"] and "phone is missing" in x["reason"]
               for x in rejects)


def test_a_segment_narrows_the_channels_routing_gives(tmp_path: Path, sample_dir: Path
                                                      ) -> None:
    segments = [{"name": "paper", "where": "locale == 'cs'", "channels": ["print"]},
                {"name": "digital", "where": "True", "channels": ["pdf"]}]
    job = load_job(write_job(tmp_path, channels=["pdf", "print"], segments=segments,
                             **sample(sample_dir)))
    schema = RecordSchema(job)
    routes = {}
    for i, row in enumerate(customers(sample_dir), 1):
        record = schema.validate(RawRecord(Position("c", i), {**row, "transactions": []}))
        routes[row["locale"]] = route_record(job, record).channels
    assert routes["cs"] == ("pdf", "print")
    assert all(channels == ("pdf",) for locale, channels in routes.items() if locale != "cs")
