"""A full disk under the archive or the index stops the run (interrupted, with the reason) instead
of failing every remaining record; the same command resumes once there is space again."""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from factory.config import Settings
from factory.executors import InlineExecutor
from factory.runner import RunOptions, run_job
from tests.conftest import REPO, csv_source, write_job


def test_enospc_from_the_store_stops_the_run_and_the_rerun_resumes(
        sample_job, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    import factory.archive.store as store_module

    real = store_module.write_atomic
    written: list[Path] = []

    def fills_up(path: Path, data: bytes | str, *, read_only: bool = False,
                 **options: bool) -> None:
        if len(written) >= 6:  # the template-set snapshot and a few documents, then full
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        written.append(path)
        real(path, data, read_only=read_only, **options)

    monkeypatch.setattr(store_module, "write_atomic", fills_up)
    options = RunOptions(period="2026-11", chunk_size=2)
    report = run_job(sample_job, settings, options, InlineExecutor())
    assert report.status == "interrupted" and report.error is None
    assert report.stop_reason and "No space left on device" in report.stop_reason
    archived = report.counts.archived
    assert report.counts.failed == 0 and archived >= 1
    assert archived == sum(1 for p in written if p.suffix == ".pdf")
    assert report.counts.pending == report.counts.input - archived and report.balanced
    stored = json.loads((settings.runs_dir / report.run_id / "report.json").read_text())
    assert stored["status"] == "interrupted" and "No space" in stored["stop_reason"]

    monkeypatch.setattr(store_module, "write_atomic", real)  # space is back
    resumed = run_job(sample_job, settings, options, InlineExecutor())
    assert resumed.status == "completed" and resumed.balanced
    assert resumed.counts.skipped == archived and resumed.counts.failed == 0
    assert resumed.counts.archived == resumed.counts.input - archived


ROOT = os.geteuid() == 0


def _mount(folder: Path, size: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                   check=True)


@pytest.mark.skipif(not ROOT or shutil.which("mount") is None,
                    reason="a real full disk needs a tmpfs mount (root); the ENOSPC path is"
                           " covered without root above")
@pytest.mark.parametrize("full", ["archive", "index"])
def test_a_real_full_tmpfs_stops_the_run_exit_130_and_the_rerun_completes(
        full: str, tmp_path: Path, sample_dir: Path) -> None:
    """A real `docfactory run` with two workers; the archive (or the index) on a 1 MiB tmpfs."""
    disk = tmp_path / "disk"
    _mount(disk, "1m")
    try:
        archive = disk if full == "archive" else tmp_path / "archive"
        index = (disk if full == "index" else tmp_path) / "index.db"
        job = write_job(tmp_path / "jobs", source=csv_source(sample_dir / "customers.csv",
                                                              sample_dir / "transactions.csv"))
        env = {**os.environ, "FACTORY_HOME": str(REPO), "FACTORY_VAR": str(tmp_path / "var"),
               "FACTORY_WORKERS": "2"}
        if full == "index":  # the index made, then room left for a few documents only
            subprocess.run([sys.executable, "-m", "factory", "index", "upgrade", "--index",
                            f"sqlite:///{index}"], env=env, check=True, capture_output=True)
            free = os.statvfs(disk).f_bavail * os.statvfs(disk).f_frsize
            (disk / "ballast").write_bytes(b"\0" * max(free - 160 * 1024, 0))
        command = [sys.executable, "-m", "factory", "run", str(job), "--period", "2026-11",
                   "--archive", archive.as_uri(), "--index", f"sqlite:///{index}"]
        first = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
        assert first.returncode == 130, first.stdout + first.stderr
        assert "No space left on device" in first.stderr or "disk is full" in first.stderr
        assert "Traceback" not in first.stderr
        assert "failed: 0" in first.stdout and "status: interrupted" in first.stdout
        subprocess.run(["mount", "-o", "remount,size=64m", str(disk)], check=True)
        again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
        assert again.returncode == 0, again.stdout + again.stderr
        assert "status: completed" in again.stdout and "failed: 0" in again.stdout
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def test_enospc_run_exits_130_with_the_reason_on_the_console(
        tmp_path: Path, sample_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    import factory.archive.store as store_module
    from factory.cli.app import cli, load_commands

    load_commands()
    real = store_module.write_atomic

    def full(path: Path, data: bytes | str, *, read_only: bool = False,
             **options: bool) -> None:
        if path.suffix == ".pdf":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        real(path, data, read_only=read_only, **options)

    monkeypatch.setattr(store_module, "write_atomic", full)
    job = write_job(tmp_path / "jobs", source=csv_source(sample_dir / "customers.csv",
                                                          sample_dir / "transactions.csv"))
    env = {"FACTORY_HOME": str(REPO), "FACTORY_VAR": str(tmp_path / "var"),
           "FACTORY_WORKERS": "1"}
    result = CliRunner().invoke(cli, ["run", str(job), "--period", "2026-11", "--executor",
                                      "inline"], env=env, catch_exceptions=False)
    assert result.exit_code == 130, result.output
    assert "stopped: " in result.output and "No space left on device" in result.output
    assert "free space, then run the same command again" in result.output
    assert "failed: 0" in result.output and "status: interrupted" in result.output


def test_a_full_database_is_a_stop_condition_not_a_record_error() -> None:
    from sqlalchemy.exc import OperationalError

    from factory.archive.index import _translate
    from factory.errors import NoSpaceError, RetryableError

    full = _translate(OperationalError("INSERT ...", {}, Exception("database or disk is full")),
                      "sqlite:///x.db")
    assert isinstance(full, NoSpaceError) and full.stops_run and not full.retryable
    locked = _translate(OperationalError("INSERT ...", {}, Exception("database is locked")),
                        "sqlite:///x.db")
    assert isinstance(locked, RetryableError) and not locked.stops_run


@pytest.mark.skipif(not ROOT or shutil.which("mount") is None,
                    reason="a real full disk needs a tmpfs mount (root)")
def test_a_full_archive_under_celery_workers_stops_the_run_too(
        cluster_name: str, tmp_path: Path, sample_dir: Path) -> None:
    from factory.config import load_settings
    from factory.executors import make_executor
    from factory.jobs import load_job
    from tests.fixtures_cluster import start_worker, stop_worker

    disk = tmp_path / "disk"
    _mount(disk, "1m")
    worker = start_worker(f"{cluster_name}-full", tmp_path / "full-worker.log")
    try:
        job = write_job(tmp_path / "jobs", source=csv_source(
            sample_dir / "customers.csv", sample_dir / "transactions.csv"),
            archive={"store": disk.as_uri(), "index": f"sqlite:///{tmp_path / 'index.db'}"})
        settings = load_settings(REPO, {}, var_dir=str(tmp_path / "var"))
        executor = make_executor("celery", cluster=worker.options())
        executor.connect()
        report = run_job(load_job(job), settings, RunOptions(period="2026-11", chunk_size=2),
                         executor)
        assert report.status == "interrupted", (report.as_dict(), worker.log_text())
        assert report.stop_reason and "No space left on device" in report.stop_reason
        assert report.counts.failed == 0
    finally:
        stop_worker(worker)
        subprocess.run(["umount", "-l", str(disk)], check=False)
