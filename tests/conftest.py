"""Shared fixtures: settings pointing at a temporary work folder, sample data, job files, the
PostgreSQL database and index URLs, and the loopback SMTP server and SMS gateway (their code:
``tests/support``). A missing server is a failure, never a skip.
"""

from __future__ import annotations

import io
import os
import secrets
import socket
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from fontTools.ttLib import TTFont
from pypdf import PdfReader

from factory.config import Settings, load_settings
from factory.jobs import JobSpec, load_job
from factory.samples.customers import generate
from tests.support.postgres import PG_ADMIN, PG_URL, psql
from tests.support.servers import Gateway, SmtpServer

REPO = Path(__file__).resolve().parents[1]
STATEMENT_JOB = REPO / "jobs" / "monthly_statements.toml"
#: What test modules import from here (PG_URL: for tests that need the server's own database).
__all__ = ["PG_URL", "REPO", "STATEMENT_JOB", "csv_source", "pdf_fonts", "pdf_text", "write_job"]

#: The archive, PostgreSQL and server fixtures of the compliance, API and cluster tests.
pytest_plugins = ["tests.archive_fixtures", "tests.fixtures_cluster"]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """The repository's templates and assets, a fresh work folder per test."""
    return load_settings(REPO, {}, var_dir=str(tmp_path / "var"), workers=1)


@pytest.fixture(autouse=True)
def _fast_tier_on_fakes(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """A test marked ``fast`` runs on fakes: it fails if it lays out a document with WeasyPrint
    or opens a TCP or PostgreSQL connection (every server the suite uses is one) in this
    process (child processes are not watched: fast tests start none). The guard holds in the
    full suite too, so the mark cannot drift from what the test does. The PostgreSQL variant of
    an index test (mark ``postgresql``) is not in the fast tier: ``-m "fast and not postgresql"``.
    """
    node = request.node
    if node.get_closest_marker("fast") is None or node.get_closest_marker("postgresql"):
        return
    name = request.node.nodeid

    def render(*_args: Any, **_kwargs: Any) -> Any:
        raise AssertionError(f"{name} is marked fast but renders with WeasyPrint")

    import weasyprint

    monkeypatch.setattr(weasyprint.HTML, "render", render)
    connect = socket.socket.connect

    def no_tcp(sock: socket.socket, address: Any) -> None:
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            raise AssertionError(f"{name} is marked fast but connects to {address}")
        connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", no_tcp)
    monkeypatch.setattr(socket.socket, "connect_ex", no_tcp)
    import psycopg  # libpq opens its own sockets, past the guard above

    def no_postgresql(*args: Any, **_kwargs: Any) -> Any:
        raise AssertionError(f"{name} is marked fast but connects to PostgreSQL")

    monkeypatch.setattr(psycopg, "connect", no_postgresql)
    monkeypatch.setattr(psycopg.Connection, "connect", no_postgresql)


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this session (bare postgresql:// URL), dropped after."""
    name = f"df_test_{os.getpid()}_{secrets.token_hex(4)}"
    psql(PG_ADMIN, f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        psql(PG_ADMIN, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def pg_url(pg_database: str) -> str:
    """A fresh schema in the session's database, selected by the URL's search_path."""
    schema = f"t_{secrets.token_hex(6)}"
    psql(pg_database, f'CREATE SCHEMA "{schema}"')
    return f"{pg_database}?options=-csearch_path%3D{schema}"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)])
def index_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The index on SQLite, then on PostgreSQL: every index test runs on both."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'index.db'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture(scope="session")
def sample_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Twelve reproducible customers as CSV, JSONL and SQLite."""
    out = tmp_path_factory.mktemp("sample")
    for fmt in ("csv", "jsonl", "sqlite"):
        generate(12, out, seed=7, period="2026-11", fmt=fmt)
    return out


def write_job(folder: Path, filename: str = "job.toml", **changes: Any) -> Path:
    """The repository's statement job with top-level tables/keys replaced by ``changes``."""
    data = tomllib.loads(STATEMENT_JOB.read_text(encoding="utf-8"))
    for key, value in changes.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / filename
    path.write_text(tomli_w.dumps(data), encoding="utf-8")
    return path


def csv_source(customers: Path, transactions: Path | None, delimiter: str = ",") -> dict:
    source: dict[str, Any] = {"type": "csv", "path": str(customers), "delimiter": delimiter}
    if transactions is not None:
        source["items"] = {"path": str(transactions), "key": "customer_id"}
    return source


@pytest.fixture
def sample_job(tmp_path: Path, sample_dir: Path) -> JobSpec:
    path = write_job(tmp_path / "jobs", source=csv_source(sample_dir / "customers.csv",
                                                          sample_dir / "transactions.csv"))
    return load_job(path)


def pdf_text(data: bytes) -> str:
    reader = PdfReader(io.BytesIO(data))
    return "\n".join(page.extract_text() for page in reader.pages)


def pdf_fonts(data: bytes) -> set[str]:
    """Full names of the font programs embedded for every page (read with fontTools)."""
    reader = PdfReader(io.BytesIO(data))
    names: set[str] = set()
    for page in reader.pages:
        fonts = page["/Resources"].get_object().get("/Font", {})
        for ref in fonts.values():
            font = ref.get_object()
            if "/DescendantFonts" in font:
                font = font["/DescendantFonts"][0].get_object()
            program = font["/FontDescriptor"].get_object()["/FontFile2"].get_object()
            names.add(TTFont(io.BytesIO(program.get_data()))["name"].getDebugName(4))
    return names


# -- delivery: a real SMTP server and a real HTTP SMS gateway on loopback (tests/support) ---

@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    server = SmtpServer()
    yield server
    server.close()


@pytest.fixture(scope="session")
def tls_ca(tmp_path_factory: pytest.TempPathFactory):
    """A private CA (trustme); ``ca.path`` is its certificate for the client (cafile=)."""
    import trustme

    ca = trustme.CA()
    ca.path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(ca.path))
    return ca


@pytest.fixture
def sms_gateway() -> Iterator[Gateway]:
    gateway = Gateway()
    yield gateway
    gateway.close()
