"""Job files: the repository's jobs load; every mistake is named with file and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from factory.errors import ConfigError
from factory.jobs import load_job
from tests.conftest import REPO, STATEMENT_JOB, write_job

pytestmark = pytest.mark.fast


def test_repository_jobs_load() -> None:
    for path in sorted((REPO / "jobs").glob("*.toml")):
        job = load_job(path)
        assert job.path == path.resolve()
    job = load_job(STATEMENT_JOB)
    assert job.document_type == "statement"
    assert job.record_schema.items is not None
    assert job.record_schema.items.field == "transactions"
    assert set(job.locales) == {"en", "cs", "sk", "uk", "bg"}


def test_unknown_key_is_named_with_allowed_keys(tmp_path: Path) -> None:
    path = write_job(tmp_path, render={"pdf_variant": "pdf/a-3b", "colour": "red"})
    with pytest.raises(ConfigError) as caught:
        load_job(path)
    message = str(caught.value)
    assert str(path) in message
    assert "render.colour: unknown key" in message
    assert "pdf_variant" in message and "tagged" in message


def test_unknown_top_level_key_and_typo_in_source(tmp_path: Path) -> None:
    path = write_job(tmp_path, retention="10y",
                     source={"type": "csv", "path": "x.csv", "delimeter": ";"})
    with pytest.raises(ConfigError) as caught:
        load_job(path)
    problems = caught.value.problems
    assert any(p.startswith("retention: unknown key") for p in problems)
    assert any(p.startswith("source.delimeter: unknown key") and "delimiter" in p
               for p in problems)


def test_wrong_types_and_missing_fields(tmp_path: Path) -> None:
    path = write_job(tmp_path, name="Monthly Statements!", key_field="no_such_field",
                     source={"type": "csv", "path": "x.csv", "delimiter": ";;"})
    with pytest.raises(ConfigError) as caught:
        load_job(path)
    text = "\n".join(caught.value.problems)
    assert "name:" in text and "'Monthly Statements!'" in text
    assert "source.delimiter:" in text


def test_key_field_must_be_a_schema_field(tmp_path: Path) -> None:
    path = write_job(tmp_path, key_field="account")
    with pytest.raises(ConfigError, match="key_field 'account' is not a field"):
        load_job(path)


def test_unknown_source_type(tmp_path: Path) -> None:
    path = write_job(tmp_path, source={"type": "xml", "path": "x.xml"})
    with pytest.raises(ConfigError, match="source: type must be one of 'csv', 'jsonl', 'sql'"):
        load_job(path)


def test_unknown_locale(tmp_path: Path) -> None:
    path = write_job(tmp_path, locales=["en", "xx-nope"])
    with pytest.raises(ConfigError, match="not a locale Babel knows"):
        load_job(path)


def test_invalid_toml_names_the_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text('name = "x"\ndocument_type = \n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"broken.toml: not valid TOML: .*line 2"):
        load_job(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="job file not found"):
        load_job(tmp_path / "nope.toml")


def test_sql_column_names_must_be_plain(tmp_path: Path) -> None:
    path = write_job(tmp_path, source={"type": "sql", "url": "sqlite:///x.db", "query": "q",
                                       "key": "id; DROP TABLE x"})
    with pytest.raises(ConfigError, match="is not a plain column name"):
        load_job(path)


def test_invalid_regular_expression_in_schema(tmp_path: Path) -> None:
    path = write_job(tmp_path, schema={"fields": {
        "customer_id": {"type": "string", "pattern": "([a-z"}}})
    with pytest.raises(ConfigError, match=r"schema.fields.customer_id.pattern: .*regular"):
        load_job(path)
