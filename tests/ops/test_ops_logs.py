"""Structured logs: ``docfactory --log-format json run`` with the real process pool writes one
JSON object per line, a line per record from the worker processes with its context, and
every URL in a line masked by the function the reports use."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from factory.observe.logs import JsonFormatter, TextFormatter
from tests.conftest import REPO


def test_a_run_logs_json_lines_with_the_record_context(sample_job: Any, tmp_path: Path) -> None:
    env = {**{k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")},
           "FACTORY_HOME": str(REPO), "FACTORY_VAR": str(tmp_path / "var")}
    done = subprocess.run(
        [sys.executable, "-m", "factory", "--log-format", "json", "--log-level", "info", "run",
         str(sample_job.path), "--period", "2026-11", "--limit", "3", "--workers", "2"],
        env=env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
    records = [line for line in lines if line["logger"] == "docfactory.records"]
    assert len(records) == 3, done.stderr
    runs = [line for line in lines if line["logger"] == "docfactory.runs"]
    assert [line["status"] for line in runs] == ["running", "completed"]
    run_id = runs[0]["run_id"]
    for line in records:
        assert line["run_id"] == run_id and line["job"] == sample_job.name
        assert line["period"] == "2026-11" and line["status"] == "archived"
        assert line["channel"] == {"pdf": "done"}
    assert all(line["worker"].rsplit("-", 1)[1].isdigit() for line in records)
    assert len({line["record"] for line in records}) == 3


def test_every_string_of_a_line_is_masked() -> None:
    secret = "smtp://mailer:hunter2@mail.example:587/?api_key=k3y"
    record = logging.LogRecord("docfactory.records", logging.WARNING, __file__, 1,
                               "record C1 failed: %s refused", (secret,), None)
    record.reason = f"could not connect to {secret}"
    record.channel = {"email": f"failed at {secret}"}
    for formatter in (JsonFormatter(), TextFormatter()):
        text = formatter.format(record)
        assert "hunter2" not in text and "k3y" not in text, text
        assert "mail.example" in text
    line = json.loads(JsonFormatter().format(record))
    assert line["level"] == "warning" and line["reason"].startswith("could not connect")


def test_auto_is_json_off_a_terminal() -> None:
    from factory.observe.logs import resolve_format

    assert resolve_format("auto", io.StringIO()) == "json"
    assert resolve_format("text", io.StringIO()) == "text"


def test_default_log_options_do_not_leak_into_the_environment(monkeypatch, tmp_path) -> None:
    """A library caller's (or a test's) later processes must not inherit a default choice."""
    from click.testing import CliRunner

    from factory.cli.app import cli, load_commands
    from factory.observe.logs import FORMAT_ENV, LEVEL_ENV

    monkeypatch.delenv(FORMAT_ENV, raising=False)
    monkeypatch.delenv(LEVEL_ENV, raising=False)
    monkeypatch.setenv("FACTORY_VAR", str(tmp_path / "var"))
    load_commands()
    CliRunner().invoke(cli, ["calendar", "--jobs", str(tmp_path)])
    assert FORMAT_ENV not in os.environ and LEVEL_ENV not in os.environ
