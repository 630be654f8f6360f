"""Archive search by customer name and account (issue 16), and the repositories behind it.

The index keeps ``customer_name`` and ``account`` on each document row (migration 0008;
rows archived before it keep NULL). A name matches case-insensitively anywhere in it, an
account exactly or, ending in ``*``, as a prefix; spaces in an IBAN do not matter. Every
index test runs on SQLite and on a real PostgreSQL.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from alembic import command
from click.testing import CliRunner
from sqlalchemy import insert

from factory.archive import Slot, open_index
from factory.archive.identity import customer_identity
from factory.archive.index import SqlIndex
from factory.archive.rows import DeliveryRow, RunRow, TemplateVersionRow
from factory.archive.tables import documents
from factory.compliance.query import DocumentQuery
from factory.errors import InputError
from factory.models import ArchiveEntry, DeliveryStatus
from tests.archive.test_archive import entry as archive_entry

PEOPLE = [("C1", "Jan Jansen", "CZ6508000000192000145399"),
          ("C2", "Marie JANSENOVÁ", "CZ6508000000192000145400"),
          ("C3", "Petr Černý", "SK3112000000198742637541"),
          ("C4", "100% Discount s.r.o.", None)]


@pytest.fixture(params=["sqlite", "postgresql"])
def index_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'index.db'}"
        return
    import psycopg

    from tests.conftest import PG_URL

    name = f"df_arch_{secrets.token_hex(4)}"
    admin = PG_URL.replace("+psycopg", "")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield PG_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def person_entry(key: str, name: str, account: str | None) -> ArchiveEntry:
    slot = Slot("job", "2026-11", key, "pdf", "statement")
    return replace(archive_entry(slot, f"00000000-0000-4000-8000-00000000000{key[1:]}"),
                   customer_name=name, account=account)


def archive_people(index: SqlIndex) -> None:
    for key, name, account in PEOPLE:
        entry = person_entry(key, name, account)
        slot = Slot(entry.job, entry.period, key, entry.channel, entry.document_type)
        index.claims.complete(index.claims.claim(slot, "run1"), entry)


def found(index: SqlIndex, **criteria: str) -> list[str]:
    hits, _more = index.search.search(DocumentQuery.parse(**criteria))  # type: ignore[arg-type]
    return sorted(d.entry.record_key for d in hits)


def test_search_by_part_of_a_name_in_any_case_and_by_account(index_url: str) -> None:
    index = open_index(index_url)
    try:
        archive_people(index)
        assert found(index, customer_name="jans") == ["C1", "C2"]
        assert found(index, customer_name="JANSENOVÁ") == ["C2"]  # non-ASCII folds too
        assert found(index, customer_name="černý") == ["C3"]
        assert found(index, customer_name="nobody") == []
        # LIKE wildcards in a name are plain characters, not "anything"
        assert found(index, customer_name="100%") == ["C4"]
        assert found(index, customer_name="%") == ["C4"]
        assert found(index, customer_name="_") == []
        assert found(index, account="CZ65 0800 0000 1920 0014 5399") == ["C1"]
        assert found(index, account="CZ6508000000192000145399") == ["C1"]
        assert found(index, account="CZ650800*") == ["C1", "C2"]
        assert found(index, account="CZ6508") == []  # exact unless asked for a prefix
        assert found(index, customer_name="jan", account="CZ650800*") == ["C1", "C2"]
        assert found(index, customer_name="jan", account="SK*") == []
        stored = index.documents.get("00000000-0000-4000-8000-000000000001")
        assert stored is not None and stored.customer_name == "Jan Jansen"
        assert stored.account == "CZ6508000000192000145399"
    finally:
        index.close()


def test_rows_archived_before_0008_keep_null_and_still_match_other_filters(
        index_url: str) -> None:
    index = SqlIndex.__new__(SqlIndex)  # the schema at 0007, as an older release left it
    from factory.archive.db import Database

    db = Database(index_url)
    with db.engine.begin() as connection:
        config = SqlIndex._alembic(index, connection)
        command.upgrade(config, "0007_revisions")
        old = archive_entry(Slot("job", "2026-10", "C9", "pdf", "statement"),
                            "00000000-0000-4000-8000-000000000009").as_dict()
        del old["customer_name"], old["account"]
        connection.execute(insert(documents).values(**old, legal_hold=False))
    db.dispose()
    index = open_index(index_url)  # migrates to 0008
    try:
        index.check_schema()  # at this code's head (0008 or a later revision)
        assert index.schema_revision() != "0007_revisions"
        entry = index.documents.get("00000000-0000-4000-8000-000000000009")
        assert entry is not None and entry.customer_name is None and entry.account is None
        assert found(index, customer="C9") == ["C9"]
        assert found(index, customer_name="a") == []
    finally:
        index.close()


@pytest.mark.parametrize(("criteria", "message"), [
    ({"customer_name": "a\x00b"}, "name 'a?b'"),
    ({"account": "CZ*65"}, "account 'CZ*65'"),
    ({"account": "x" * 200}, "up to 128 characters"),
])
def test_bad_name_or_account_is_an_input_error_naming_it(criteria: dict[str, str],
                                                         message: str) -> None:
    with pytest.raises(InputError, match=re.escape(message)):
        DocumentQuery.parse(**criteria)  # type: ignore[arg-type]


def test_customer_identity_reads_the_name_field_and_the_first_account_field() -> None:
    assert customer_identity({"name": "  Jan   Jansen ", "account_iban": "CZ65 0800 0000"}) \
        == ("Jan Jansen", "CZ6508000000")
    assert customer_identity({"addressee": "Firma", "iban": "SK31"}, "addressee") \
        == ("Firma", "SK31")
    assert customer_identity({"name": "", "account": None}) == (None, None)
    assert customer_identity({"name": "x" * 300}).customer_name == "x" * 256


def test_repositories_return_typed_rows(index_url: str) -> None:
    index = open_index(index_url)
    try:
        epoch = index.runs.start_run("run1", "job", "2026-11", executor="inline", workers=1,
                                     template_version="a" * 64, dry_run=False)
        index.runs.heartbeat("run1", {"archived": 1})
        run = index.runs.get("run1")
        assert isinstance(run, RunRow) and run.epoch == epoch == 1
        assert run.report == {"archived": 1} and run.status == "running"
        assert index.runs.get("run1") == run and index.runs.get("nope") is None
        assert [r.run_id for r in index.runs.recent("job")] == ["run1"]
        assert index.runs.recent(["job", "other"]) == [run]

        assert index.templates.remember("f" * 64, "statement", "northwind", "_t/f.zip")
        assert not index.templates.remember("f" * 64, "statement", "northwind", "_t/f.zip")
        version = index.templates.get("f" * 64)
        assert isinstance(version, TemplateVersionRow) and version.brand == "northwind"
        assert index.templates.get("f" * 64) == version
        assert [v.version for v in index.templates.match("FFF")] == ["f" * 64]

        slot = Slot("job", "2026-11", "C1", "email", "statement")
        claim = index.claims.claim(slot, "run1")
        assert index.deliveries.begin(claim, "d1", document_id="doc", storage_key="k",
                                      recipient="a@example.com", transport="smtp") == 1
        index.deliveries.finish("d1", DeliveryStatus.FAILED, reason="refused")
        row = index.deliveries.get("d1")
        assert isinstance(row, DeliveryRow) and row.status == "failed" and row.attempts == 1
        assert index.deliveries.get("d1") == row
        assert index.deliveries.where(job="job") == [row]
        assert index.deliveries.existing("job", "2026-11", "email", "statement",
                                         ["C1", "C2"], ("failed",)) == {"C1"}
        assert index.claims.held("run1") == 1 == index.claims.held()
        index.claims.release(claim)
        assert index.claims.held() == 0
    finally:
        index.close()


def test_a_run_indexes_name_and_account_and_the_cli_finds_them(shared_archive) -> None:
    from factory.cli.app import cli, load_commands

    load_commands()
    entries = shared_archive.entries(job="monthly_statements")
    assert entries and all(e.customer_name and e.account for e in entries)
    first = entries[0]
    part = first.customer_name.split()[-1][1:].upper()  # a piece of the surname, other case
    result = CliRunner().invoke(cli, ["archive", "search", "--name", part, "--json"],
                                env=shared_archive.env(), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    import json

    rows = json.loads(result.output)
    assert first.document_id in {r["document_id"] for r in rows}
    assert all(part.lower() in r["customer_name"].lower() for r in rows)
    result = CliRunner().invoke(cli, ["archive", "search", "--account", first.account[:8] + "*",
                                      "--json"], env=shared_archive.env(),
                                catch_exceptions=False)
    rows = json.loads(result.output)
    assert first.document_id in {r["document_id"] for r in rows}
    assert all(r["account"].startswith(first.account[:8]) for r in rows)
