"""Shared fixtures: settings pointing at a temporary work folder, sample data, job files."""

from __future__ import annotations

import io
import tomllib
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from fontTools.ttLib import TTFont
from pypdf import PdfReader

from factory.config import Settings, load_settings
from factory.jobs import JobSpec, load_job
from factory.sample import generate

REPO = Path(__file__).resolve().parents[1]
STATEMENT_JOB = REPO / "jobs" / "monthly_statements.toml"
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"

pytest_plugins = ["tests.fixtures_cluster"]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """The repository's templates and assets, a fresh work folder per test."""
    return load_settings(REPO, {}, var_dir=str(tmp_path / "var"), workers=1)


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
