"""The command line, through click's runner and as real processes: exit codes, messages,
progress, Ctrl-C and resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from factory.cli.app import cli, load_commands
from tests.conftest import REPO, csv_source, pdf_text, write_job

load_commands()


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {"FACTORY_HOME": str(REPO), "FACTORY_VAR": str(tmp_path / "var"),
            "FACTORY_WORKERS": "1"}


def invoke(env: dict[str, str], *args: str):
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


def test_sample_data_validate_run_status(tmp_path: Path, env: dict[str, str]) -> None:
    out = tmp_path / "data"
    result = invoke(env, "sample-data", "--customers", "5", "--out", str(out), "--seed", "3")
    assert result.exit_code == 0, result.output
    assert "5 customers" in result.output
    job = write_job(tmp_path / "jobs", source=csv_source(out / "customers.csv",
                                                          out / "transactions.csv"))
    result = invoke(env, "validate", str(job), "--period", "2026-11")
    assert result.exit_code == 0, result.output
    assert "5 sample record(s) validated and rendered" in result.output

    result = invoke(env, "run", str(job), "--period", "2026-11", "--executor", "inline")
    assert result.exit_code == 0, result.output
    assert "✓ input 5 = archived 5 + rejected 0 + failed 0 + skipped 0" in result.output
    run_id = result.output.split("Run ", 1)[1].split(":", 1)[0]
    report = json.loads((tmp_path / "var" / "runs" / run_id / "report.json").read_text())
    assert report["counts"]["archived"] == 5

    result = invoke(env, "status", run_id)
    assert result.exit_code == 0 and "completed" in result.output
    result = invoke(env, "runs")
    assert run_id in result.output


def test_preview_pdf_and_html(tmp_path: Path, sample_dir: Path, env: dict[str, str]) -> None:
    job = write_job(tmp_path / "jobs", source=csv_source(sample_dir / "customers.csv",
                                                          sample_dir / "transactions.csv"))
    target = tmp_path / "p.pdf"
    result = invoke(env, "preview", str(job), "--record", "C000003", "--period", "2026-11",
                    "-o", str(target))
    assert result.exit_code == 0, result.output
    assert "C000003" in pdf_text(target.read_bytes())
    result = invoke(env, "preview", str(job), "--record", "C000003", "--format", "html",
                    "--period", "2026-11", "-o", str(tmp_path / "p.html"))
    assert result.exit_code == 0 and "<html" in (tmp_path / "p.html").read_text()
    assert not (tmp_path / "var" / "archive").exists()
    result = invoke(env, "preview", str(job), "--record", "C404404", "--period", "2026-11")
    assert result.exit_code == 2 and "record 'C404404' not found" in result.output


def test_usage_errors_exit_2_with_a_message_not_a_traceback(tmp_path: Path,
                                                            env: dict[str, str]) -> None:
    job = write_job(tmp_path / "jobs", render={"pdf_variant": "pdf/a-3b", "colur": "x"})
    for command in (["validate", str(job)], ["run", str(job), "--period", "2026-11"]):
        result = invoke(env, *command)
        assert result.exit_code == 2
        assert "render.colur: unknown key" in result.output
        assert "Traceback" not in result.output
    result = invoke(env, "run", str(REPO / "jobs" / "monthly_statements.toml"), "--period",
                    "2026-13")
    assert result.exit_code == 2 and "period '2026-13'" in result.output
    result = invoke(env, "validate", str(tmp_path / "missing.toml"))
    assert result.exit_code == 2 and "job file not found" in result.output


def test_reading_commands_refuse_a_missing_index_instead_of_creating_one(
        tmp_path: Path, env: dict[str, str]) -> None:
    index = tmp_path / "var" / "index.db"
    for command in (["runs"], ["status", "20261101T000000Z-abcdef"],
                    ["archive", "search", "--customer", "C000001"], ["audit", "list"]):
        result = invoke(env, *command)
        assert result.exit_code == 2, (command, result.output)
        assert f"no index at {index}" in result.output
    assert not index.exists()


def test_missing_input_names_the_file(tmp_path: Path, env: dict[str, str]) -> None:
    job = write_job(tmp_path / "jobs", source=csv_source(tmp_path / "nope.csv", None))
    result = invoke(env, "validate", str(job))
    assert result.exit_code == 2 and "nope.csv: file not found" in result.output


def test_rejects_give_exit_code_1(tmp_path: Path, sample_dir: Path,
                                  env: dict[str, str]) -> None:
    data = (sample_dir / "customers.csv").read_text(encoding="utf-8").splitlines()
    data[2] = data[2].replace("C000002", "BAD-KEY", 1)
    (tmp_path / "c.csv").write_text("\n".join(data[:4]) + "\n", encoding="utf-8")
    job = write_job(tmp_path / "jobs", source=csv_source(tmp_path / "c.csv",
                                                          sample_dir / "transactions.csv"))
    result = invoke(env, "run", str(job), "--period", "2026-11", "--executor", "inline")
    assert result.exit_code == 1, result.output
    assert "rejected" in result.output and "rejects.jsonl" in result.output
    reject_line = next(line for line in result.output.splitlines() if "reject:" in line)
    assert "1 × customer_id: " in reject_line and "customer_id: customer_id" not in reject_line
    assert "[N-N]" not in reject_line  # the reason as written, digits and all


CUSTOMERS = 16


def start_run(tmp_path: Path, env: dict[str, str]) -> tuple[subprocess.Popen, list[str], dict]:
    """A real `docfactory run` with two worker processes, in its own process group."""
    out = tmp_path / "data"
    full_env = {**os.environ, **env, "FACTORY_WORKERS": "2"}
    docfactory = [sys.executable, "-m", "factory", "--home", str(REPO)]
    subprocess.run([*docfactory, "sample-data", "--customers", str(CUSTOMERS), "--out",
                    str(out)], check=True, env=full_env, capture_output=True)
    job = write_job(tmp_path / "jobs", source=csv_source(out / "customers.csv",
                                                          out / "transactions.csv"))
    command = [*docfactory, "run", str(job), "--period", "2026-11", "--chunk-size", "1"]
    process = subprocess.Popen(command, env=full_env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, start_new_session=True)
    index = tmp_path / "var" / "index.db"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.3)
        if index.exists() and _archived(index) >= 3:
            break
    return process, command, full_env


def assert_rerun_completes(tmp_path: Path, command: list[str], env: dict, first: int) -> None:
    rerun = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert f"skipped {first}" in rerun.stdout
    index = tmp_path / "var" / "index.db"
    assert _archived(index) == CUSTOMERS
    assert len(list((tmp_path / "var" / "archive").rglob("*.pdf"))) == CUSTOMERS
    assert not list((tmp_path / "var" / "archive").rglob("*.tmp"))


def test_ctrl_c_stops_cleanly_and_the_rerun_resumes(tmp_path: Path, env: dict[str, str]) -> None:
    process, command, full_env = start_run(tmp_path, env)
    os.killpg(process.pid, signal.SIGINT)
    stdout, stderr = process.communicate(timeout=300)
    assert process.returncode == 130, stdout + stderr
    assert "interrupted" in stdout + stderr
    first = _archived(tmp_path / "var" / "index.db")
    assert 3 <= first < CUSTOMERS
    assert "status: interrupted" in stdout
    # The report counts what the index holds, chunks in flight included, and balances.
    (report_file,) = (tmp_path / "var" / "runs").glob("*/report.json")
    counts = json.loads(report_file.read_text())["counts"]
    assert counts["archived"] == first
    assert counts["input"] == counts["archived"] + counts["rejected"] + counts["failed"] + \
        counts["skipped"] + counts["pending"]
    assert_rerun_completes(tmp_path, command, full_env, first)


def test_kill_9_of_everything_then_rerun_resumes_at_once(tmp_path: Path,
                                                        env: dict[str, str]) -> None:
    """SIGKILL to the coordinator and its workers: no report, claims left behind, the run
    still marked running. The next run takes over immediately, with no gap and no duplicate."""
    process, command, full_env = start_run(tmp_path, env)
    os.killpg(process.pid, signal.SIGKILL)
    process.communicate(timeout=60)
    first = _archived(tmp_path / "var" / "index.db")
    assert 3 <= first < CUSTOMERS
    assert_rerun_completes(tmp_path, command, full_env, first)


def _archived(index: Path) -> int:
    import sqlite3

    try:
        with sqlite3.connect(index, timeout=30) as db:
            return db.execute("SELECT COUNT(*) FROM documents").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def test_index_upgrade_makes_a_behind_index_usable_by_workers(tmp_path: Path,
                                                             env: dict[str, str]) -> None:
    from factory.archive import open_index
    from factory.errors import ArchiveError

    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    with pytest.raises(ArchiveError, match="run `docfactory index upgrade`"):
        open_index(url, migrate=False)
    result = invoke(env, "index", "upgrade", "--index", url)
    assert result.exit_code == 0, result.output
    assert "schema at " in result.output
    open_index(url, migrate=False).close()
