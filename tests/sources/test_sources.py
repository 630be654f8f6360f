"""Sources stream records in input order, join line items, and reject unparseable rows."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import psycopg
import pytest

from factory.errors import SourceError
from factory.models import RawRecord, Reject
from factory.sources import CsvSource, JsonlSource, SqlSource
from tests.conftest import PG_URL


def write(path: Path, text: str | bytes) -> Path:
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8", newline="")
    return path


@pytest.mark.fast
def test_csv_with_bom_semicolons_and_unsorted_items(tmp_path: Path) -> None:
    customers = write(tmp_path / "c.csv", "\ufeffid;name\nB;Bea\nA;Ann\n")
    items = write(tmp_path / "t.csv", "id;amount\nA;1\nB;2\nA;3\nZ;9\n")
    source = CsvSource(customers, ";", items, "id", "lines", ";", tmp_path / "tmp")
    assert source.columns() == ["id", "name"]
    assert source.count() == 2
    records = list(source.records())
    assert [r.data["name"] for r in records] == ["Bea", "Ann"]
    assert records[1].data["lines"] == [{"amount": "1"}, {"amount": "3"}]
    assert records[0].data["lines"] == [{"amount": "2"}]
    assert records[0].position.line == 2 and records[1].position.index == 2
    assert source.orphan_items == 1 and source.orphan_keys == ["Z"]


@pytest.mark.fast
def test_malformed_quoting_and_short_rows_are_rejected_and_the_rest_read(tmp_path: Path) -> None:
    text = 'id,name\n1,Ann\n2,"Bea"x\n3\n4,"multi\nline"\n5,Eve\n'
    items = list(CsvSource(write(tmp_path / "c.csv", text)).records())
    kinds = [(type(i).__name__, i.position.line) for i in items]
    assert kinds == [("RawRecord", 2), ("Reject", 3), ("Reject", 4), ("RawRecord", 5),
                     ("RawRecord", 7)]
    assert "malformed CSV" in items[1].reason
    assert "1 values but the header has 2" in items[2].reason
    assert items[3].data["name"] == "multi\nline"


@pytest.mark.fast
def test_unclosed_quote_is_reported_once_with_its_line(tmp_path: Path) -> None:
    items = list(CsvSource(write(tmp_path / "c.csv", 'id,name\n1,Ann\n2,"Bea\n3,Cy\n'))
                 .records())
    assert isinstance(items[1], Reject)
    assert "never closed" in items[1].reason and items[1].position.line == 3


@pytest.mark.fast
def test_non_utf8_bytes_survive_as_escapes(tmp_path: Path) -> None:
    path = write(tmp_path / "c.csv", b"id,name\n1,Nov\xe1k\n")
    (record,) = CsvSource(path).records()
    assert isinstance(record, RawRecord)
    assert "\udce1" in record.data["name"]


@pytest.mark.fast
@pytest.mark.parametrize(("text", "message"), [
    ("", "the file is empty; expected a header row"),
    ("id,id\n1,2\n", "column 'id' appears twice"),
    ("id,\n1,2\n", "empty column name"),
])
def test_unusable_csv_header(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(SourceError, match=message):
        list(CsvSource(write(tmp_path / "c.csv", text)).records())


@pytest.mark.fast
def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"nope.csv: file not found"):
        CsvSource(tmp_path / "nope.csv").columns()


@pytest.mark.fast
def test_broken_item_file_refuses_the_whole_batch(tmp_path: Path) -> None:
    customers = write(tmp_path / "c.csv", "id,name\nA,Ann\n")
    items = write(tmp_path / "t.csv", 'id,amount\nA,1\nA,"2\n')
    with pytest.raises(SourceError, match=r"t.csv:3: malformed CSV"):
        list(CsvSource(customers, items_path=items, items_key="id").records())
    items = write(tmp_path / "t.csv", "customer,amount\nA,1\n")
    with pytest.raises(SourceError, match="key column 'id' is not in the header"):
        list(CsvSource(customers, items_path=items, items_key="id").records())


@pytest.mark.fast
def test_jsonl(tmp_path: Path) -> None:
    path = write(tmp_path / "c.jsonl", '{"id": "A", "items": [{"x": 1}]}\n\n[1, 2]\n{"id": \n'
                 '{"id": "B"}\n')
    source = JsonlSource(path)
    assert source.count() == 4
    items = list(source.records())
    assert isinstance(items[0], RawRecord) and items[0].data["items"] == [{"x": 1}]
    assert isinstance(items[1], Reject) and "expected a JSON object, got list" in items[1].reason
    assert items[1].position.line == 3
    assert isinstance(items[2], Reject) and "not valid JSON" in items[2].reason
    assert isinstance(items[3], RawRecord) and items[3].position.index == 4


@pytest.mark.fast
def test_empty_jsonl(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="the file is empty"):
        list(JsonlSource(write(tmp_path / "c.jsonl", "\n\n")).records())


def make_sqlite(path: Path, customers: int) -> str:
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE c (id TEXT, name TEXT)")
    db.execute("CREATE TABLE t (cid TEXT, amount TEXT)")
    for n in range(customers):
        db.execute("INSERT INTO c VALUES (?, ?)", (f"K{n:04d}", f"name {n}"))
        db.executemany("INSERT INTO t VALUES (?, ?)", [(f"K{n:04d}", str(i)) for i in range(3)])
    db.commit()
    db.close()
    return f"sqlite:///{path}"


@pytest.mark.fast
def test_sql_parent_and_items_in_batches(tmp_path: Path) -> None:
    url = make_sqlite(tmp_path / "d.db", 1203)
    source = SqlSource(url, "SELECT id, name FROM c", "id",
                       "SELECT cid, amount FROM t", "cid", "lines")
    assert source.columns() == ["id", "name"]
    assert source.count() == 1203
    records = list(source.records())
    assert len(records) == 1203
    assert records[1202].data["lines"] == [{"amount": "0"}, {"amount": "1"}, {"amount": "2"}]
    assert records[0].position.index == 1 and records[0].position.line is None


@pytest.mark.fast
def test_sql_missing_key_column_and_bad_query(tmp_path: Path) -> None:
    url = make_sqlite(tmp_path / "d.db", 1)
    with pytest.raises(SourceError, match="the query has no column 'nope'"):
        list(SqlSource(url, "SELECT id FROM c", "nope").records())
    with pytest.raises(SourceError, match="the query failed"):
        list(SqlSource(url, "SELECT * FROM missing_table", "id").records())


@pytest.mark.fast
def test_sql_items_order(tmp_path: Path) -> None:
    url = make_sqlite(tmp_path / "d.db", 2)
    source = SqlSource(url, "SELECT id FROM c", "id", "SELECT cid, amount FROM t", "cid",
                       "lines", items_order_by=["amount"])
    first = next(iter(source.records()))
    assert [i["amount"] for i in first.data["lines"]] == ["0", "1", "2"]
    descending = SqlSource(url, "SELECT id FROM c", "id",
                           "SELECT cid, 2 - CAST(amount AS INTEGER) AS rank, amount FROM t",
                           "cid", "lines", items_order_by=["rank"])
    first = next(iter(descending.records()))
    assert [i["amount"] for i in first.data["lines"]] == ["2", "1", "0"]


def test_sql_error_never_shows_the_password() -> None:
    source = SqlSource("postgresql+psycopg://bob:s3cret-pw@127.0.0.1:1/nowhere",
                       "SELECT 1", "id")
    with pytest.raises(SourceError) as caught:
        source.columns()
    assert "s3cret-pw" not in str(caught.value)
    assert "***" in str(caught.value) and "bob" in str(caught.value)


def test_sql_on_postgresql(tmp_path: Path) -> None:
    """The same source against the real PostgreSQL server on loopback."""
    with psycopg.connect(PG_URL.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS df_src_t; DROP TABLE IF EXISTS df_src_c")
        conn.execute("CREATE TABLE df_src_c (id integer, name text)")
        conn.execute("CREATE TABLE df_src_t (cid integer, amount numeric)")
        conn.execute("INSERT INTO df_src_c SELECT g, 'n' || g FROM generate_series(1, 700) g")
        conn.execute("INSERT INTO df_src_t SELECT g % 700 + 1, g FROM generate_series(1, 2100) g")
    try:
        source = SqlSource(PG_URL, "SELECT id, name FROM df_src_c", "id",
                           "SELECT cid, amount FROM df_src_t", "cid", "lines")
        records = list(source.records())
        assert len(records) == 700
        assert all(len(r.data["lines"]) == 3 for r in records)
        assert source.count() == 700
    finally:
        with psycopg.connect(PG_URL.replace("+psycopg", ""), autocommit=True) as conn:
            conn.execute("DROP TABLE df_src_t; DROP TABLE df_src_c")


@pytest.mark.fast
def test_jsonl_sample_data_matches_csv(sample_dir: Path) -> None:
    csv_records = list(CsvSource(sample_dir / "customers.csv",
                                 items_path=sample_dir / "transactions.csv",
                                 items_key="customer_id", items_field="transactions").records())
    jsonl_records = list(JsonlSource(sample_dir / "customers.jsonl").records())
    assert [r.data["customer_id"] for r in csv_records] == \
        [r.data["customer_id"] for r in jsonl_records]
    first = json.loads(json.dumps(jsonl_records[0].data))
    assert first["transactions"] == csv_records[0].data["transactions"]


@pytest.mark.fast
def test_jsonl_line_too_deep_or_with_a_huge_integer_is_rejected_and_the_rest_read(
        tmp_path: Path) -> None:
    deep = "[" * 200_000 + "]" * 200_000
    huge = "1" * 5000
    path = write(tmp_path / "c.jsonl", '{"id": "A"}\n{"id": "B", "x": ' + deep + '}\n'
                 '{"id": "C", "n": ' + huge + '}\n{"id": "D"}\n')
    items = list(JsonlSource(path).records())
    assert [i.data["id"] for i in items if isinstance(i, RawRecord)] == ["A", "D"]
    rejects = [i for i in items if isinstance(i, Reject)]
    assert [r.position.line for r in rejects] == [2, 3]
    assert "nested too deeply" in rejects[0].reason
    assert "digits" in rejects[1].reason
