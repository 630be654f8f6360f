"""Choosing proof records: the job's list plus edge cases, in one streaming pass."""

from __future__ import annotations

import csv
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest

from factory.config import load_settings
from factory.errors import ConfigError
from factory.jobs import RecordSchema, load_job
from factory.models import Position, RawRecord, Reject
from factory.proofs.select import select_records
from factory.sources import open_source
from tests.conftest import REPO, csv_source, write_job
from tests.proofkit import customer, proof_job, write_records


class GeneratedSource:
    """``count`` customers made on the fly, never held together (tests constant memory)."""

    name = "generated"

    def __init__(self, count: int) -> None:
        self.count_ = count

    def columns(self) -> None:
        return None

    def count(self) -> int:
        return self.count_

    def records(self) -> Iterator[RawRecord | Reject]:
        locales = ["en", "cs", "sk"]
        for n in range(1, self.count_ + 1):
            data = customer(f"C{n:06d}", f"Customer {n}", locales[n % 3], 1 + n % 5,
                            email=f"c{n}@example.com", phone="+420601123456",
                            preferred_channel="email", consent_email="true",
                            consent_sms="false", address_line2="Floor 2")
            if n == 1234:
                data["name"] = "Maximilián " * 10 + "Long"
            if n == 1500:
                data["transactions"] = data["transactions"] * 30
            if n == 1600:
                data.update(email=None, phone=None, address_line2=None)
            if n == 2700:
                data["transactions"] = []
            if n == 2800:
                data["locale"] = "uk"
                data["currency"] = "UAH"
            if n == 100:
                data["opening_balance"] = "not a number"
            yield RawRecord(Position(self.name, n, n + 1), data)


def test_edge_cases_in_one_pass_in_constant_memory(tmp_path: Path) -> None:
    job = load_job(write_job(tmp_path, proofs=["C000010", "C000011"]))
    source = GeneratedSource(3_000)
    tracemalloc.start()
    try:
        selection = select_records(source, RecordSchema(job), job)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4_000_000, f"selection kept {peak:,} bytes: records are being retained"
    assert (selection.scanned, selection.rejected) == (3_000, 1)
    picked = {p.key: p.reasons for p in selection.records}
    assert list(picked)[:2] == ["C000010", "C000011"], "listed records come first, in order"
    assert picked["C000010"] == ["listed in proofs"]
    assert "longest name" in picked["C001234"]
    assert "most line items" in picked["C001500"]
    assert "fewest line items" in picked["C002700"]
    assert "most empty optional fields" in picked["C001600"]
    assert "locale uk" in picked["C002800"]
    for locale, first in (("en", "C000003"), ("cs", "C000001"), ("sk", "C000002")):
        assert f"locale {locale}" in picked[first]
    assert "locale bg" not in str(picked), "no bg record in the input: nothing to pick"
    assert len(selection.records) == 2 + 5 + 3


@pytest.mark.fast
def test_listed_records_missing_or_rejected_are_named(tmp_path: Path) -> None:
    records = write_records(tmp_path / "c.jsonl", [
        customer("C000001", "Amelia Smith", "en"),
        customer("C000002", "Bad Balance", "en", opening_balance="lots"),
    ])
    job = load_job(proof_job(tmp_path / "jobs", records, proofs=["C000002", "C000009"]))
    source = open_source(job, load_settings(REPO, {}, var_dir=str(tmp_path / "var")))
    with pytest.raises(ConfigError) as caught:
        select_records(source, RecordSchema(job), job)
    problems = "\n".join(caught.value.problems)
    assert "C000002: rejected by the schema" in problems and "opening_balance" in problems
    assert "C000009: not in c.jsonl" in problems


@pytest.mark.fast
def test_sample_data_edge_cases(sample_dir: Path, tmp_path: Path) -> None:
    job = load_job(write_job(tmp_path, source=csv_source(sample_dir / "customers.csv",
                                                         sample_dir / "transactions.csv")))
    settings = load_settings(REPO, {}, var_dir=str(tmp_path / "var"))
    selection = select_records(open_source(job, settings), RecordSchema(job), job)
    reasons = [r for p in selection.records for r in p.reasons]
    assert {"longest name", "most line items", "fewest line items"} <= set(reasons)
    with (sample_dir / "customers.csv").open(encoding="utf-8") as handle:
        present = {row["locale"] for row in csv.DictReader(handle)}
    assert {f"locale {loc}" for loc in present} <= set(reasons)
    assert len({p.key for p in selection.records}) == len(selection.records)
