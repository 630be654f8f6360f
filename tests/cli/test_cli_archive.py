"""``docfactory archive | keys | audit`` through click's runner on a real archive: tables,
verified files, exit codes and clear messages for bad input, nothing written on failure."""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from click.testing import CliRunner
from sqlalchemy import update

from factory.archive.tables import audit_log
from factory.cli.app import cli, load_commands

if TYPE_CHECKING:
    from tests.archive_fixtures import Built

load_commands()


def invoke(built: Built, *args: str):
    return CliRunner().invoke(cli, list(args), env=built.env(), catch_exceptions=False)


def test_search_prints_a_table_and_json(shared_archive: Built) -> None:
    customer = shared_archive.entries()[0].customer_id
    result = invoke(shared_archive, "archive", "search", "--customer", customer, "--type",
                    "statement", "--from", "2026-01", "--to", "2026-11")
    assert result.exit_code == 0, result.output
    assert "2 document(s)" in result.output
    for entry in shared_archive.entries(customer_id=customer):
        assert (entry.document_id in result.output) == (entry.document_type == "statement")
    result = invoke(shared_archive, "archive", "search", "--job", "monthly_invoices", "--json")
    rows = json.loads(result.output)
    assert {r["document_type"] for r in rows} == {"invoice"} and len(rows) == 3
    assert all(len(r["sha256"]) == 64 for r in rows)


@pytest.mark.parametrize(("args", "message"), [
    (["search", "--customer", "C1", "--from", "2026-13"], "--from '2026-13' is not a month"),
    (["search", "--from", "2026-11", "--to", "2026-01"], "the range is reversed"),
    (["search", "--to", "11/2026"], "--to '11/2026' is not a month"),
    (["search", "--job", "../etc"], "is not a job name"),
    (["get", "not-an-id"], "'not-an-id' is not a document id"),
    (["get", "../../../etc/passwd"], "is not a document id"),
    (["get", "00000000-0000-0000-0000-000000000000"], "no document 00000000-"),
    (["hold", "00000000-0000-0000-0000-000000000000"], "no document"),
    (["rerender", "00000000-0000-0000-0000-000000000000"], "no document"),
    (["export", "--customer", "C1", "--from", "2026-02-30", "-o", "x.zip"],
     "--from '2026-02-30' is not a month"),
    (["export", "--customer", "C123456", "-o", "x.zip"], "no documents match customer=C123456"),
    (["verify", "--job", "x", "--all"], "give --job or --all, not both"),
])
def test_bad_input_exits_2_with_a_message(shared_archive: Built, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch, args: list[str],
                                          message: str) -> None:
    monkeypatch.chdir(tmp_path)
    result = invoke(shared_archive, "archive", *args)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output
    assert list(tmp_path.iterdir()) == []


def test_get_writes_the_exact_bytes(shared_archive: Built, tmp_path: Path) -> None:
    entry = shared_archive.entries()[0]
    target = tmp_path / "sub" / "copy.pdf"
    result = invoke(shared_archive, "archive", "get", entry.document_id, "-o", str(target))
    assert result.exit_code == 0, result.output
    assert hashlib.sha256(target.read_bytes()).hexdigest() == entry.sha256
    assert f"SHA-256 {entry.sha256} (verified)" in result.output
    assert [p.name for p in target.parent.iterdir()] == ["copy.pdf"]


def test_tampered_object_exits_3_and_writes_nothing(archive: Built, tmp_path: Path) -> None:
    entry = archive.entries()[0]
    stored = archive.archive_dir / entry.storage_key
    stored.chmod(0o644)
    stored.write_bytes(stored.read_bytes().replace(b"%%EOF", b"%%EOX"))
    out = tmp_path / "out"
    out.mkdir()
    result = invoke(archive, "archive", "get", entry.document_id, "-o", str(out / "d.pdf"))
    assert result.exit_code == 3
    assert "integrity error:" in result.output and entry.storage_key in result.output
    result = invoke(archive, "archive", "export", "--customer", entry.customer_id, "-o",
                    str(out / "b.zip"))
    assert result.exit_code == 3
    assert list(out.iterdir()) == []
    result = invoke(archive, "archive", "verify")
    assert result.exit_code == 1
    assert f"altered: {entry.storage_key}" in result.output
    assert "0 missing, 1 altered, 0 orphan" in result.output
    result = invoke(archive, "archive", "verify", "--job", "monthly_invoices"
                    if entry.job != "monthly_invoices" else "monthly_statements")
    assert result.exit_code == 0, result.output


def test_export_with_size_limit_and_bundle(shared_archive: Built, tmp_path: Path) -> None:
    customer = shared_archive.entries()[0].customer_id
    result = invoke(shared_archive, "archive", "export", "--customer", customer, "--from",
                    "2026-10", "--to", "2026-11", "-o", str(tmp_path / "b.zip"),
                    "--max-bytes", "10K")
    assert result.exit_code == 2 and "over the limit of 10,240 bytes" in result.output
    assert list(tmp_path.iterdir()) == []
    result = invoke(shared_archive, "archive", "export", "--customer", customer, "--from",
                    "2026-10", "--to", "2026-11", "-o", str(tmp_path / "b.zip"))
    assert result.exit_code == 0, result.output
    assert "3 document(s)" in result.output
    with zipfile.ZipFile(tmp_path / "b.zip") as bundle:
        assert len([n for n in bundle.namelist() if n.startswith("documents/")]) == 3


def test_get_of_a_document_whose_file_is_missing_exits_3(archive: Built, tmp_path: Path
                                                        ) -> None:
    """The index promises a document the store no longer has: a failed verification (3),
    like an altered one, not bad input (2)."""
    entry = archive.entries()[0]
    (archive.archive_dir / entry.storage_key).unlink()
    target = tmp_path / "out" / "d.pdf"
    result = invoke(archive, "archive", "get", entry.document_id, "-o", str(target))
    assert result.exit_code == 3, result.output
    assert "integrity error:" in result.output
    assert f"its object {entry.storage_key} is missing" in result.output
    assert not target.parent.exists()


def test_hold_release_and_purge_dry_run(archive: Built) -> None:
    entry = archive.entries()[0]
    result = invoke(archive, "archive", "hold", entry.document_id, "--reason", "case 42")
    assert result.exit_code == 0 and "on legal hold" in result.output
    result = invoke(archive, "archive", "search", "--customer", entry.customer_id)
    assert "HOLD" in result.output
    result = invoke(archive, "archive", "purge-expired")
    assert result.exit_code == 0
    assert "would purge 0 document(s)" in result.output and "--execute" in result.output
    result = invoke(archive, "archive", "release", entry.document_id)
    assert result.exit_code == 0 and "not on hold" in result.output
    result = invoke(archive, "audit", "list", "--document", entry.document_id, "--json")
    actions = [e["action"] for e in json.loads(result.output)]
    assert actions == ["archive.release", "archive.hold"]


def test_rerender_command(shared_archive: Built, tmp_path: Path) -> None:
    entry = shared_archive.entries(job="monthly_invoices")[0]
    result = invoke(shared_archive, "archive", "rerender", entry.document_id, "-o",
                    str(tmp_path / "again.pdf"))
    assert result.exit_code == 0, result.output
    assert "matches the archived document byte for byte" in result.output
    assert hashlib.sha256((tmp_path / "again.pdf").read_bytes()).hexdigest() == entry.sha256


def test_keys_and_audit_verify(archive: Built) -> None:
    result = invoke(archive, "keys", "create", "--role", "finance", "--name", "alice")
    assert result.exit_code == 0, result.output
    token = result.output.strip().splitlines()[-1]
    assert token.startswith("dfk_")
    key_id = token.split("_")[1]
    listed = invoke(archive, "keys", "list")
    assert key_id in listed.output and "finance" in listed.output and token not in listed.output
    assert invoke(archive, "keys", "create", "--role", "admin").exit_code == 2
    assert invoke(archive, "keys", "revoke", key_id).exit_code == 0
    assert invoke(archive, "keys", "revoke", "ffffffffffff").exit_code == 2

    result = invoke(archive, "audit", "verify")
    assert result.exit_code == 0 and "audit log intact: 2 entries" in result.output
    head = result.output.split("head ", 1)[1].split()[0]
    log = invoke(archive, "audit", "list", "--json")
    assert token not in log.output, "keys never enter the audit log"
    index = archive.index()
    with index.engine.begin() as conn:
        conn.execute(update(audit_log).where(audit_log.c.seq == 1).values(role="compliance"))
    result = invoke(archive, "audit", "verify", "--anchor", head)
    assert result.exit_code == 1
    assert "entry 1 (keys.create by cli:" in result.output and "it was edited" in result.output
