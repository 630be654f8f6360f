"""The compliance desk's finer points: ``archive get -o`` never overwrites a file, typed search
filters (invoice number, customer name, account, date range), and ``/api/audit``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from click.testing import CliRunner

from factory.cli.app import cli, load_commands

if TYPE_CHECKING:
    from tests.archive_fixtures import Built

load_commands()


def invoke(built: Built, *args: str):
    return CliRunner().invoke(cli, list(args), env=built.env(), catch_exceptions=False)


def test_get_refuses_to_overwrite_an_existing_file(shared_archive: Built, tmp_path: Path) -> None:
    entry = shared_archive.entries()[0]
    target = tmp_path / "mine.pdf"
    target.write_bytes(b"my own work, not an archived document")
    result = invoke(shared_archive, "archive", "get", entry.document_id, "-o", str(target))
    assert result.exit_code == 2, result.output
    assert "exists already" in result.output and str(target) in result.output.replace("\n", "")
    assert target.read_bytes() == b"my own work, not an archived document"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine.pdf"]


def test_search_by_invoice_number_finds_that_invoice_only(tmp_path: Path, settings) -> None:
    from factory.archive import open_index
    from factory.executors import InlineExecutor
    from factory.jobs import load_job
    from factory.runner import RunOptions, run_job
    from tests.invoicing.test_invoices import AWKWARD, invoice_job, write_invoices

    data = write_invoices(tmp_path / "data" / "invoices.jsonl", AWKWARD)
    job = load_job(invoice_job(tmp_path / "jobs", data))
    report = run_job(job, settings, RunOptions(period="2026-11"), InlineExecutor())
    assert report.counts.archived >= 3, report.as_dict()
    index = open_index(settings.default_index_url)
    numbers = index.numbering.numbers("FV2026")
    index.close()
    number, record_key, doc_id = numbers[1]
    env = {"FACTORY_HOME": str(settings.root), "FACTORY_VAR": str(settings.var_dir)}

    def search(*args: str):
        return CliRunner().invoke(cli, ["archive", "search", "--json", *args], env=env,
                                  catch_exceptions=False)

    import json

    for printed in (f"FV2026{number:06d}", f"FV2026/{number:06d}"):
        result = search("--invoice", printed)
        assert result.exit_code == 0, result.output
        found = json.loads(result.output)
        assert [d["document_id"] for d in found] == [doc_id], printed
        assert found[0]["record_key"] == record_key
    assert json.loads(search("--invoice", f"FV2026{number + 50:06d}").output) == []
    assert json.loads(search("--invoice", f"FV2025{number:06d}").output) == []
    bad = search("--invoice", "'; DROP TABLE documents; --")
    assert bad.exit_code == 2 and "is not an invoice number" in bad.output
