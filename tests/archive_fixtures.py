"""Fixtures for the compliance, archive CLI, HTTP API and web page tests.

- ``golden_archive``: a small real archive, built once per session with real rendering: three
  customers' statements for 2026-10 and 2026-11 and their invoices (an invoice-like job made
  here) for 2026-11, in a file store and a SQLite index. Tests never use it directly (even a
  search writes to the audit log): they get a copy.
- ``archive``: a private copy of it for a test that changes things.
- ``shared_archive``: a copy shared by one test module, for tests that only read (and so
  only add audit entries).
- `start_server`: a real ``docfactory serve`` process on a free loopback port.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from factory.archive import SqlIndex, Store, open_index, open_store
from factory.compliance import Role
from factory.compliance.keys import create_key, revoke_key
from factory.config import Settings, load_settings
from factory.executors import InlineExecutor
from factory.jobs import load_job
from factory.models import ArchiveEntry
from factory.runner import RunOptions, run_job
from factory.samples.customers import generate
from tests.conftest import REPO, csv_source, write_job

STATEMENT_PERIODS = ("2026-10", "2026-11")


@dataclass
class Built:
    """A project folder with jobs/ and var/ (sample data, archive, index)."""

    root: Path
    settings: Settings = field(init=False)

    def __post_init__(self) -> None:
        self.settings = load_settings(REPO, {}, var_dir=str(self.var), workers=1)

    @property
    def var(self) -> Path:
        return self.root / "var"

    @property
    def jobs(self) -> Path:
        return self.root / "jobs"

    @property
    def index_url(self) -> str:
        return self.settings.default_index_url

    @property
    def store_url(self) -> str:
        return self.settings.default_archive_url

    @property
    def archive_dir(self) -> Path:
        return self.var / "archive"

    def index(self) -> SqlIndex:
        return open_index(self.index_url)

    def store(self) -> Store:
        return open_store(self.store_url)

    def entries(self, **filters: str) -> list[ArchiveEntry]:
        index = self.index()
        try:
            return list(index.documents.entries(**filters))
        finally:
            index.close()

    def env(self) -> dict[str, str]:
        return {"FACTORY_HOME": str(REPO), "FACTORY_VAR": str(self.var), "FACTORY_WORKERS": "1"}


def build_archive(root: Path, customers: int = 3) -> Built:
    built = Built(root)
    sample = built.var / "sample"
    generate(customers, sample, seed=11, period="2026-11", fmt="csv")
    source = csv_source(sample / "customers.csv", sample / "transactions.csv")
    statements = load_job(write_job(built.jobs, "monthly_statements.toml", source=source))
    invoices = load_job(write_job(built.jobs, "monthly_invoices.toml", source=source,
                                  name="monthly_invoices", document_type="invoice",
                                  retention_class="invoice",
                                  description="Invoice-like job made by the tests"))
    for job, periods in ((statements, STATEMENT_PERIODS), (invoices, ("2026-11",))):
        for period in periods:
            report = run_job(job, built.settings, RunOptions(period=period), InlineExecutor())
            assert report.counts.archived == customers, report.as_dict()
    return built


@pytest.fixture(scope="session")
def golden_archive(tmp_path_factory: pytest.TempPathFactory) -> Built:
    return build_archive(tmp_path_factory.mktemp("golden"))


def copy_archive(golden: Built, target: Path) -> Built:
    shutil.copytree(golden.root, target, symlinks=True)
    return Built(target)


@pytest.fixture
def archive(golden_archive: Built, tmp_path: Path) -> Built:
    return copy_archive(golden_archive, tmp_path / "project")


@pytest.fixture(scope="module")
def shared_archive(golden_archive: Built, tmp_path_factory: pytest.TempPathFactory) -> Built:
    return copy_archive(golden_archive, tmp_path_factory.mktemp("shared") / "project")


def make_keys(built: Built) -> dict[str, str]:
    """One key per role, plus a revoked one."""
    index = built.index()
    try:
        keys = {role.value: create_key(index, role, f"{role.value} tester", "tests")[1]
                for role in Role}
        info, revoked = create_key(index, Role.COMPLIANCE, "revoked", "tests")
        revoke_key(index, info.key_id)
        keys["revoked"] = revoked
    finally:
        index.close()
    return keys


@dataclass
class Server:
    url: str
    process: subprocess.Popen[str]
    lines: list[str]

    def stop(self) -> int:
        self.process.terminate()
        try:
            return self.process.wait(60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait(10)


def start_server(built: Built, *extra: str, env: dict[str, str] | None = None) -> Server:
    """``docfactory serve --port 0`` as a real process; its output is drained by a thread."""
    process = subprocess.Popen(
        [sys.executable, "-m", "factory", "serve", "--port", "0", "--jobs", str(built.jobs),
         "--workers", "1", *extra],
        cwd=built.root, env={**_base_env(), **built.env(), **(env or {})},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    ready = threading.Event()

    def drain() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line.rstrip("\n"))
            if "serving on http://" in line:
                ready.set()

    threading.Thread(target=drain, daemon=True).start()
    deadline = time.monotonic() + 60
    while not ready.is_set():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise AssertionError("docfactory serve did not start:\n" + "\n".join(lines))
        ready.wait(0.1)
    url = next(line for line in lines if "serving on http://" in line) \
        .split("serving on ", 1)[1].split("/ ", 1)[0]
    return Server(url, process, lines)


def _base_env() -> dict[str, str]:
    import os

    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "USER", "LOGNAME")
    return {k: v for k, v in os.environ.items() if k in keep}
