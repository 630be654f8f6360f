"""Bad input that used to escape as a crash, a silent loss or a wrong exit code (issue 14)."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from factory.cli.app import cli, load_commands
from tests.conftest import REPO, csv_source, write_job

load_commands()


def env_for(tmp_path: Path) -> dict[str, str]:
    return {"FACTORY_HOME": str(REPO), "FACTORY_VAR": str(tmp_path / "var"),
            "FACTORY_WORKERS": "1"}


def invoke(env: dict[str, str], *args: str):
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


def report_of(tmp_path: Path) -> dict:
    (path,) = (tmp_path / "var" / "runs").glob("*/report.json")
    return json.loads(path.read_text(encoding="utf-8"))


def test_unclosed_quote_does_not_balance_and_names_the_unread_remainder(
        tmp_path: Path, sample_dir: Path) -> None:
    lines = (sample_dir / "customers.csv").read_text(encoding="utf-8").splitlines()
    broken = [*lines[:2], lines[2].replace(",", ',"', 1), *lines[3:7]]
    (tmp_path / "c.csv").write_text("\n".join(broken) + "\n", encoding="utf-8")
    job = write_job(tmp_path / "jobs", source=csv_source(tmp_path / "c.csv",
                                                          sample_dir / "transactions.csv"))
    result = invoke(env_for(tmp_path), "run", str(job), "--period", "2026-11",
                    "--executor", "inline")
    assert result.exit_code == 3, result.output
    assert "DOES NOT BALANCE" in result.output or "✗" in result.output
    assert "c.csv: lines 3-7" in result.output and "not read" in result.output
    report = report_of(tmp_path)
    assert report["counts"]["archived"] == 1 and report["counts"]["rejected"] == 1
    assert report["reconciliation"]["balanced"] is False
    assert "lines 3-7" in report["reconciliation"]["unread"]


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_unreachable_broker_is_a_clear_message_naming_it_without_its_password_exit_2(
        tmp_path: Path, sample_dir: Path) -> None:
    port = free_port()
    job = write_job(tmp_path / "jobs", source=csv_source(sample_dir / "customers.csv",
                                                          sample_dir / "transactions.csv"))
    env = {**env_for(tmp_path), "FACTORY_BROKER_URL": f"redis://:s3cretpw@127.0.0.1:{port}/0"}
    result = CliRunner().invoke(cli, ["run", str(job), "--period", "2026-11", "--executor",
                                      "celery"], env=env)
    assert result.exit_code == 2, result.output
    assert f"cannot reach the broker for queue 'docfactory' on redis://***@127.0.0.1:{port}/0" \
        in result.output
    assert "s3cretpw" not in result.output and "Traceback" not in result.output


def test_malformed_line_item_file_exits_2_nothing_ran(tmp_path: Path, sample_dir: Path) -> None:
    items = (sample_dir / "transactions.csv").read_text(encoding="utf-8").splitlines()
    items[3] += ",one too many"
    (tmp_path / "t.csv").write_text("\n".join(items) + "\n", encoding="utf-8")
    job = write_job(tmp_path / "jobs", source=csv_source(sample_dir / "customers.csv",
                                                          tmp_path / "t.csv"))
    result = invoke(env_for(tmp_path), "run", str(job), "--period", "2026-11",
                    "--executor", "inline")
    assert result.exit_code == 2, result.output
    assert "t.csv:4:" in result.output and "read whole" in result.output
    assert report_of(tmp_path)["counts"]["archived"] == 0


def test_user_text_with_brackets_and_colons_is_printed_as_written(
        tmp_path: Path, sample_dir: Path) -> None:
    """`[x]` (rich markup) and `:x:` (a rich emoji code) through each message path: an error,
    a validate problem list, a run summary's rejects, and a path."""
    env = {**env_for(tmp_path), "FACTORY_VAR": str(tmp_path / "var[x]:x:")}
    # 1. handle_errors: a source path holding both
    folder = tmp_path / "in[x]:x:0:0"
    folder.mkdir()
    job = write_job(tmp_path / "jobs", source=csv_source(folder / "nope.csv", None))
    result = invoke(env, "run", str(job), "--period", "2026-11", "--executor", "inline")
    assert result.exit_code == 2 and f"{folder}/nope.csv: file not found" in result.output
    # 2. a missing column: "required by [schema.fields] of ..." (run and validate's problems)
    lines = (sample_dir / "customers.csv").read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    keep = [i for i, name in enumerate(header) if name != "name"]
    rows = [",".join(line.split(",")[i] for i in keep) for line in lines[:4]]
    (folder / "c.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    job = write_job(tmp_path / "jobs", source=csv_source(folder / "c.csv", None))
    for command in ("run", "validate"):
        result = invoke(env, command, str(job), "--period", "2026-11")
        assert result.exit_code == 2, result.output
        assert "required by [schema.fields] of" in result.output, result.output
        assert f"{folder}" in result.output or "c.csv" in result.output
    # 3. the run summary: a reject reason quoting the job's pattern, a record value with :x:
    lines[2] = lines[2].replace("C000002", "root:x:0:0[x]", 1)
    (folder / "c.csv").write_text("\n".join(lines[:3]) + "\n", encoding="utf-8")
    job = write_job(tmp_path / "jobs", source=csv_source(folder / "c.csv",
                                                          sample_dir / "transactions.csv"))
    result = invoke(env, "run", str(job), "--period", "2026-11", "--executor", "inline")
    assert result.exit_code == 1, result.output
    assert "^C[0-9]{6}$" in result.output, result.output
    assert f"{tmp_path}/var[x]:x:/runs/" in result.output  # the report's and rejects' paths
    assert "❌" not in result.output


def test_a_run_removes_scratch_folders_of_runs_killed_with_9_and_keeps_live_ones(
        tmp_path: Path, sample_dir: Path) -> None:
    import os
    import signal
    import subprocess
    import sys

    from factory.sources import SeenKeys

    scratch = tmp_path / "var" / "tmp"
    script = ("import os, signal, sys; from pathlib import Path;"
              " from factory.sources.seen import SeenKeys; from factory.sources.spill import"
              " ItemSpill; k = SeenKeys(Path(sys.argv[1])); i = ItemSpill(Path(sys.argv[1]));"
              " os.kill(os.getpid(), signal.SIGKILL)")
    for _ in range(3):
        died = subprocess.run([sys.executable, "-c", script, str(scratch)], cwd=REPO)
        assert died.returncode == -signal.SIGKILL
    assert len(list(scratch.glob("docfactory-*"))) == 6
    with SeenKeys(scratch) as alive:  # another run, still going
        job = write_job(tmp_path / "jobs", source=csv_source(sample_dir / "customers.csv",
                                                              sample_dir / "transactions.csv"))
        result = invoke(env_for(tmp_path), "run", str(job), "--period", "2026-11", "--limit",
                        "1", "--executor", "inline")
        assert result.exit_code == 0, result.output
        assert "removed 6 scratch folder(s)" in result.output
        assert list(scratch.glob("docfactory-*")) == [Path(alive._dir.name)]
    assert os.listdir(scratch) == []


def test_a_run_that_fails_part_way_exits_3_with_its_report_written_and_its_row_settled(
        tmp_path: Path, sample_dir: Path, monkeypatch) -> None:
    import sqlite3

    from factory.errors import FactoryError
    from factory.executors import InlineExecutor

    real = InlineExecutor.map

    def breaks_after_one_chunk(self, config, chunks):
        for number, outcomes in enumerate(real(self, config, chunks)):
            yield outcomes
            if number == 0:
                raise FactoryError("the index went away")

    monkeypatch.setattr(InlineExecutor, "map", breaks_after_one_chunk)
    job = write_job(tmp_path / "jobs", source=csv_source(sample_dir / "customers.csv",
                                                          sample_dir / "transactions.csv"))
    result = invoke(env_for(tmp_path), "run", str(job), "--period", "2026-11", "--executor",
                    "inline", "--chunk-size", "2")
    assert result.exit_code == 3, result.output
    report = report_of(tmp_path)
    assert report["status"] == "failed" and report["error"] == "the index went away"
    assert report["counts"]["archived"] == 2
    db = sqlite3.connect(tmp_path / "var" / "index.db")
    assert db.execute("SELECT status FROM runs").fetchall() == [("failed",)]
    db.close()
