"""``docfactory invoices register`` and ``find`` over a real invoice run: the register's rows
come from the archived record snapshots and agree with the XML; find lists every document of
an invoice number."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from click.testing import CliRunner

from factory.cli.app import cli, load_commands
from factory.config import Settings
from factory.executors import InlineExecutor
from factory.jobs import load_job
from factory.runner import RunOptions, run_job
from tests.conftest import REPO
from tests.invoicing.test_invoices import AWKWARD, invoice_job, write_invoices

load_commands()


def test_register_and_find(tmp_path: Path, settings: Settings) -> None:
    data = write_invoices(tmp_path / "data" / "invoices.jsonl", AWKWARD)
    job = load_job(invoice_job(tmp_path / "jobs", data))
    report = run_job(job, settings, RunOptions(period="2026-11"), InlineExecutor())
    assert report.counts.archived == 4
    env = {"FACTORY_HOME": str(REPO), "FACTORY_VAR": str(tmp_path / "var")}
    result = CliRunner().invoke(cli, ["invoices", "register", "--period", "2026-11"], env=env,
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.output)))
    assert [r["number"] for r in rows] == \
        ["DB2026000001", "FV2026000001", "FV2026000002", "FV2026000003"]
    first = next(r for r in rows if r["number"] == "FV2026000001")
    assert (first["customer_id"], first["currency"], first["issued"]) == \
        ("C000001", "CZK", "2026-12-01")
    assert (first["base S 21"], first["vat S 21"], first["base S 12"], first["vat E 0"]) == \
        ("3.03", "0.64", "4.39", "0.00")
    assert (first["tax_basis"], first["vat_total"], first["grand_total"]) == \
        ("11.43", "1.17", "12.60")
    eur = next(r for r in rows if r["number"] == "FV2026000002")
    assert (eur["currency"], eur["accounting_currency"], eur["vat_total_accounting"]) == \
        ("EUR", "CZK", "277.38")

    out = tmp_path / "register.csv"
    result = CliRunner().invoke(cli, ["invoices", "register", "--period", "2026-11", "-o",
                                      str(out)], env=env, catch_exceptions=False)
    assert result.exit_code == 0 and out.read_text(encoding="utf-8").count("\n") == 5

    found = CliRunner().invoke(cli, ["invoices", "find", "FV2026000002"], env=env,
                               catch_exceptions=False)
    assert found.exit_code == 0 and "I000003" in found.output and "pdf" in found.output
    missing = CliRunner().invoke(cli, ["invoices", "find", "FV2026000099"], env=env)
    assert missing.exit_code != 0 and "no invoice numbered FV2026000099" in missing.output
