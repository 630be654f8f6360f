"""``archive verify`` checks every seal of a sealed archive: intact, trusted, and nothing but
validation data appended after it. Someone who can rewrite both the stored PDF and its index
row (SHA-256, size) still cannot hide a change: the seal tells."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import subprocess
import zipfile
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
from tests.conftest import REPO
from tests.sealkit import TestPki, build_sealed_project, serve_pki

load_commands()


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory):
    with serve_pki(tmp_path_factory.mktemp("pki")) as served:
        yield served


@pytest.fixture(scope="module")
def golden(pki: TestPki, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project whose statements (2 customers, 2026-11) are sealed B-T."""
    return build_sealed_project(tmp_path_factory.mktemp("sealed"), pki)


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
        entry = next(iter(index.documents.entries(job="monthly_statements")))
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


def sealed_export_env(project: Path, pki: TestPki) -> dict[str, str]:
    """A project root whose docfactory.toml seals export manifests (B-T)."""
    (project / "docfactory.toml").write_text(
        f"[factory]\ntemplates_dir = '{REPO / 'templates'}'\nassets_dir = '{REPO / 'assets'}'\n"
        f"[factory.export_seal]\nprofile = 'B-T'\nkey = '{pki.seal_p12}'\n"
        f"tsa_url = '{pki.tsa_url}'\n", encoding="utf-8")
    return {"FACTORY_HOME": str(project), "FACTORY_VAR": str(project / "var"),
            "FACTORY_WORKERS": "1", "FACTORY_SEAL_PASSWORD": pki.password}


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), cwd=cwd, capture_output=True, text=True, check=False)


def test_a_sealed_export_bundle_checks_with_openssl_and_pdfsig_alone(
        project: Path, pki: TestPki, tmp_path: Path) -> None:
    doc_id, _key, _path = first_document(project)
    index = open_index(f"sqlite:///{project / 'var' / 'index.db'}")
    entry = next(e for e in index.documents.entries(job="monthly_statements")
                 if e.document_id == doc_id)
    index.close()
    target = tmp_path / "bundle.zip"
    result = CliRunner().invoke(cli, ["archive", "export", "--customer", entry.customer_id,
                                      "-o", str(target)],
                                env=sealed_export_env(project, pki), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    out = tmp_path / "unzipped"
    with zipfile.ZipFile(target) as bundle:
        bundle.extractall(out)
        names = bundle.namelist()
    shutil.copy(pki.root_pem, out / "root.pem")
    # readable names: customer id and name, type, period, revision
    pdfs = [n for n in names if n.startswith("documents/")]
    manifest = json.loads((out / "manifest.json").read_text())
    assert len(pdfs) == 1 and pdfs[0].startswith(f"documents/2026-11/{entry.customer_id}_")
    assert pdfs[0].endswith("_statement_2026-11_r1.pdf"), pdfs
    name = manifest["documents"][0]["path"]
    assert name == pdfs[0] and doc_id not in name
    cms = run("openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in",
              "manifest.json.p7s", "-content", "manifest.json", "-CAfile", "root.pem",
              "-purpose", "any", "-out", "/dev/null", cwd=out)
    assert cms.returncode == 0 and "Verification successful" in cms.stderr, cms.stderr
    ts = run("openssl", "ts", "-verify", "-data", "manifest.json", "-in", "manifest.json.tst",
             "-token_in", "-CAfile", "root.pem", cwd=out)
    assert ts.returncode == 0 and "Verification: OK" in ts.stdout, ts.stdout + ts.stderr
    sums = run("sha256sum", "-c", "SHA256SUMS", cwd=out)
    assert sums.returncode == 0 and sums.stdout.strip().endswith(": OK"), sums.stdout
    for file, digest in manifest["files"].items():
        assert hashlib.sha256((out / file).read_bytes()).hexdigest() == digest, file
    assert "openssl cms -verify" in (out / "README.txt").read_text()
    pdf = run("pdfsig", pdfs[0], cwd=out)
    assert "Signature is Valid." in pdf.stdout, pdf.stdout
    # one changed byte of the manifest and OpenSSL refuses it
    body = (out / "manifest.json").read_bytes()
    (out / "manifest.json").write_bytes(body.replace(b'"document_count": 1',
                                                     b'"document_count": 2'))
    cms = run("openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in",
              "manifest.json.p7s", "-content", "manifest.json", "-CAfile", "root.pem",
              "-purpose", "any", "-out", "/dev/null", cwd=out)
    assert cms.returncode != 0
    ts = run("openssl", "ts", "-verify", "-data", "manifest.json", "-in", "manifest.json.tst",
             "-token_in", "-CAfile", "root.pem", cwd=out)
    assert ts.returncode != 0


def test_readable_names_carry_the_invoice_number_and_stay_unique() -> None:
    from datetime import UTC, datetime

    from factory.compliance.documents import Document
    from factory.compliance.export import _path_in_zip
    from factory.models import ArchiveEntry

    moment = datetime(2026, 12, 1, tzinfo=UTC)
    entry = ArchiveEntry("d" * 40, "invoices", "r", "2026-11", "K1", "C-7", "invoice", "pdf",
                         "uk", "v", 1, 10, "0" * 64, "invoices/2026-11/K1/x.pdf",
                         "application/pdf", moment, moment, revision=2)
    snapshot = {"record": {"name": "Олена Коваль / ТОВ"},
                "computed": {"number": "FV2026/000123"}}
    taken: set[str] = set()
    first = _path_in_zip(Document(entry, False), snapshot, taken)
    assert first == "documents/2026-11/C-7_Олена-Коваль-ТОВ_invoice_2026-11_FV2026-000123_r2.pdf"
    again = _path_in_zip(Document(entry, False), snapshot, taken)
    assert again != first and again.endswith(f"_{'d' * 12}.pdf")
    assert _path_in_zip(Document(entry, False), None, set()).endswith(f"_r2_{'d' * 40}.pdf")


def document_timestamp_verifies(data: bytes, tmp: Path, pki: TestPki
                                ) -> subprocess.CompletedProcess:
    """``openssl ts -verify`` of the last document timestamp over the bytes it covers."""
    from pyhanko.pdf_utils.reader import PdfFileReader

    stamp = PdfFileReader(io.BytesIO(data)).embedded_timestamp_signatures[-1]
    start1, len1, start2, len2 = stamp.byte_range
    (tmp / "covered.bin").write_bytes(data[start1:start1 + len1] + data[start2:start2 + len2])
    (tmp / "doc-token.der").write_bytes(_content_info(stamp))
    return run("openssl", "ts", "-verify", "-data", "covered.bin", "-in", "doc-token.der",
               "-token_in", "-CAfile", str(pki.root_pem), cwd=tmp)


def _content_info(stamp) -> bytes:  # type: ignore[no-untyped-def]
    from asn1crypto import cms

    return cms.ContentInfo({"content_type": "signed_data",
                            "content": stamp.signed_data}).dump()


def test_reseal_adds_a_document_timestamp_as_a_new_revision_and_audits_it(
        project: Path, pki: TestPki, tmp_path: Path) -> None:
    from factory.compliance import AuditLog

    before = {e.document_id: e for e in open_index(
        f"sqlite:///{project / 'var' / 'index.db'}").documents.entries(job="monthly_statements")}
    dry = invoke(project, "archive", "reseal", "--tsa", pki.tsa_url, trust=pki.root_pem)
    assert dry.exit_code == 0, dry.output
    assert "0 of 2 PDF document(s) due" in dry.output  # their TSA certificate runs for years
    due = invoke(project, "archive", "reseal", "--tsa", pki.tsa_url, "--within", "4000d",
                 trust=pki.root_pem)
    assert "2 of 2 PDF document(s) due; run with --execute" in due.output, due.output
    done = invoke(project, "archive", "reseal", "--tsa", pki.tsa_url, "--within", "4000d",
                  "--execute", trust=pki.root_pem)
    assert done.exit_code == 0, done.output
    assert "2 of 2 PDF document(s) renewed" in done.output
    index = open_index(f"sqlite:///{project / 'var' / 'index.db'}")
    after = list(index.documents.entries(job="monthly_statements"))
    log = AuditLog(index)
    for entry in after:
        assert entry.revision == 2 and entry.run_id.startswith("reseal-")
        old = next(o for o in before.values() if o.record_key == entry.record_key)
        old_bytes = (project / "var" / "archive" / old.storage_key).read_bytes()
        new_bytes = (project / "var" / "archive" / entry.storage_key).read_bytes()
        # nothing archived changed: the old object is still there, byte for byte, and is the
        # start of the renewed one
        assert hashlib.sha256(old_bytes).hexdigest() == old.sha256
        assert new_bytes.startswith(old_bytes) and hashlib.sha256(
            new_bytes).hexdigest() == entry.sha256
        checked = document_timestamp_verifies(new_bytes, tmp_path, pki)
        assert "Verification: OK" in checked.stdout, checked.stdout + checked.stderr
        assert "Signature is Valid." in run("pdfsig", str(project / "var" / "archive" /
                                                          entry.storage_key), cwd=tmp_path).stdout
        actions = [(e.action, e.document_id) for e in log.entries(
            document_ids=[old.document_id, entry.document_id])]
        assert ("archive.reseal", old.document_id) in actions
        assert ("archive.reseal", entry.document_id) in actions
        # the document page says who made the new revision supersede the old one, and why
        from factory.compliance.documents import Document
        from factory.compliance.trail import supersessions

        why = supersessions(index, [Document(old, False), Document(entry, False)])
        assert why[entry.document_id].startswith("cli:") and "B-LTA" in why[entry.document_id]
    index.close()
    verified = invoke(project, "archive", "verify", "--json", trust=pki.root_pem)
    report = json.loads(verified.output)
    assert report["counts"]["seal"] == 0 and report["counts"]["altered"] == 0, report
    assert report["sealed_documents"] == 4  # both revisions of both: kept, checked
