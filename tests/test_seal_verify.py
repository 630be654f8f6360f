"""``archive verify`` checks every seal of a sealed archive: intact, trusted, and nothing but
validation data appended after it. Someone who can rewrite both the stored PDF and its index
row (SHA-256, size) still cannot hide a change: the seal tells."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from sqlalchemy import update

from factory.archive import open_index
from factory.archive.store import sha256_of
from factory.archive.tables import documents
from factory.cli.app import cli, load_commands
from factory.config import load_settings
from factory.executors import InlineExecutor
from factory.jobs import load_job
from factory.runner import RunOptions, run_job
from factory.sample import generate
from tests.conftest import REPO, csv_source, write_job
from tests.sealkit import TestPki, serve_pki

load_commands()


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory):
    with serve_pki(tmp_path_factory.mktemp("pki")) as served:
        yield served


@pytest.fixture(scope="module")
def golden(pki: TestPki, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project whose statements (2 customers, 2026-11) are sealed B-T."""
    root = tmp_path_factory.mktemp("sealed")
    sample = root / "var" / "sample"
    generate(2, sample, seed=3, period="2026-11", fmt="csv")
    job = load_job(write_job(root / "jobs", "monthly_statements.toml",
                             source=csv_source(sample / "customers.csv",
                                               sample / "transactions.csv"),
                             seal={"profile": "B-T", "key": str(pki.seal_p12),
                                   "tsa_url": pki.tsa_url}))
    settings = load_settings(REPO, {"FACTORY_SEAL_PASSWORD": pki.password},
                             var_dir=str(root / "var"), workers=1)
    report = run_job(job, settings, RunOptions(period="2026-11"), InlineExecutor())
    assert report.counts.archived == 2, report.as_dict()
    return root


@pytest.fixture
def project(golden: Path, tmp_path: Path) -> Path:
    target = tmp_path / "project"
    shutil.copytree(golden, target)
    return target


def invoke(root: Path, *args: str, trust: Path | None = None):
    env = {"FACTORY_HOME": str(REPO), "FACTORY_VAR": str(root / "var"), "FACTORY_WORKERS": "1"}
    if trust is not None:
        env["FACTORY_SEAL_TRUST"] = str(trust)
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


def first_document(root: Path) -> tuple[str, str, Path]:
    index = open_index(f"sqlite:///{root / 'var' / 'index.db'}")
    try:
        entry = next(iter(index.entries(job="monthly_statements")))
    finally:
        index.close()
    return entry.document_id, entry.storage_key, root / "var" / "archive" / entry.storage_key


def rewrite(root: Path, doc_id: str, path: Path, data: bytes) -> None:
    """Replace the stored bytes and make the index agree, as an insider could."""
    path.chmod(0o644)
    path.write_bytes(data)
    index = open_index(f"sqlite:///{root / 'var' / 'index.db'}")
    try:
        with index.begin() as conn:
            conn.execute(update(documents).where(documents.c.document_id == doc_id).values(
                sha256=sha256_of(data), byte_size=len(data)))
    finally:
        index.close()


def stamp_paid(data: bytes) -> bytes:
    """An incremental update that draws 'PAID' on page 1 (a viewer shows the new revision)."""
    buf = io.BytesIO(data)
    writer = IncrementalPdfFileWriter(buf)
    page = writer.root["/Pages"]["/Kids"][0]
    ref = writer.add_object(generic.StreamObject(stream_data=b"BT /F1 24 Tf 80 80 Td (PAID) Tj ET"))
    page["/Contents"] = generic.ArrayObject([page.raw_get("/Contents"), ref])
    writer.update_container(page)
    writer.write_in_place()
    return buf.getvalue()


def test_a_sealed_archive_verifies_with_its_trust_anchor(golden: Path, pki: TestPki) -> None:
    result = invoke(golden, "archive", "verify", trust=pki.root_pem)
    assert result.exit_code == 0, result.output
    assert "2 sealed document(s), 0 seal problem(s)" in result.output


def test_a_change_appended_after_sealing_is_reported_even_with_the_index_rewritten(
        project: Path, pki: TestPki) -> None:
    doc_id, key, path = first_document(project)
    rewrite(project, doc_id, path, stamp_paid(path.read_bytes()))
    result = invoke(project, "archive", "verify", trust=pki.root_pem)
    assert result.exit_code == 1, result.output
    assert "0 missing, 0 altered, 0 orphan" in result.output  # the checksums agree now
    assert f"seal: {key} (document {doc_id}): modified after sealing" in result.output
    assert "1 seal problem(s)" in result.output


def test_bytes_changed_inside_the_sealed_range_break_the_seal(project: Path) -> None:
    doc_id, _key, path = first_document(project)
    data = bytearray(path.read_bytes())
    at = data.index(b"stream\n")
    data[at + 20] ^= 0x01  # one byte of the first stream, inside the signed range
    rewrite(project, doc_id, path, bytes(data))
    result = invoke(project, "archive", "verify", "--json")
    assert result.exit_code == 1
    assert "seal broken: the sealed bytes were changed" in result.output


def test_an_unsealed_document_of_a_sealing_job_is_reported(project: Path, pki: TestPki) -> None:
    from weasyprint import HTML

    doc_id, key, path = first_document(project)
    rewrite(project, doc_id, path, HTML(string="<p>forged</p>").write_pdf())
    result = invoke(project, "archive", "verify", trust=pki.root_pem)
    assert result.exit_code == 1
    assert f"seal: {key} (document {doc_id}): not sealed, although its job sealed" in \
        result.output


def test_a_signer_outside_the_trust_anchors_is_reported(golden: Path, tmp_path: Path,
                                                        pki: TestPki) -> None:
    with serve_pki(tmp_path / "other") as other:  # another CA with the same names
        result = invoke(golden, "archive", "verify", trust=other.root_pem)
    assert result.exit_code == 1
    assert "does not chain to a configured trust anchor" in result.output
