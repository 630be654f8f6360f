"""Sealed documents (PAdES B-B, B-T, B-LT) with a real test PKI and a real RFC 3161 TSA on
loopback (certomancer), checked with independent verifiers: poppler's ``pdfsig`` for the
signature and ``openssl ts -verify`` for the timestamp token."""

from __future__ import annotations

import hashlib
import io
import subprocess
from pathlib import Path

import pikepdf
import pytest
from click.testing import CliRunner
from pyhanko.pdf_utils.reader import PdfFileReader

from factory.config import load_settings
from factory.errors import ConfigError, RetryableSealError
from factory.executors import InlineExecutor
from factory.executors.payload import decode_config, encode_config
from factory.jobs import RecordSchema, load_job
from factory.jobs.seal import SealSpec
from factory.models import Artifact, Period, Record
from factory.pipeline import WorkerConfig
from factory.pipeline.document import DocumentRenderer
from factory.render.seal import Sealer
from factory.runner import RunOptions, run_job
from factory.runner.plan import plan_records
from factory.samples.customers import generate
from factory.sources import SeenKeys, open_source
from tests.conftest import REPO, csv_source, pdf_text, write_job
from tests.sealkit import TestPki, serve_pki


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory):
    with serve_pki(tmp_path_factory.mktemp("pki")) as served:
        yield served


def secrets(pki: TestPki) -> dict[str, str]:
    return {"FACTORY_SEAL_PASSWORD": pki.password}


def seal_table(pki: TestPki, profile: str = "B-T", key: Path | None = None) -> dict:
    table = {"profile": profile, "key": str(key or pki.seal_p12)}
    if profile != "B-B":
        table["tsa_url"] = pki.tsa_url
    if profile == "B-LT":
        table["trust"] = [str(pki.root_pem)]
    return table


def sealed_project(root: Path, pki: TestPki, customers: int = 2, **seal_changes) -> Path:
    sample = root / "var" / "sample"
    generate(customers, sample, seed=5, period="2026-11", fmt="csv")
    return write_job(root / "jobs", "monthly_statements.toml",
                     source=csv_source(sample / "customers.csv", sample / "transactions.csv"),
                     seal={**seal_table(pki), **seal_changes})


def pdfsig(data: bytes, tmp: Path) -> str:
    path = tmp / "check.pdf"
    path.write_bytes(data)
    return subprocess.run(["pdfsig", str(path)], capture_output=True, text=True,
                          check=False).stdout


def openssl_ts_verify(data: bytes, tmp: Path, pki: TestPki) -> subprocess.CompletedProcess:
    """Verify the signature timestamp of the first seal in ``data`` with OpenSSL alone."""
    signature = PdfFileReader(io.BytesIO(data)).embedded_signatures[0]
    info = signature.signer_info
    token = info["unsigned_attrs"][0]["values"][0]
    (tmp / "token.der").write_bytes(token.dump())
    (tmp / "signature.bin").write_bytes(info["signature"].native)
    return subprocess.run(
        ["openssl", "ts", "-verify", "-data", str(tmp / "signature.bin"), "-in",
         str(tmp / "token.der"), "-token_in", "-CAfile", str(pki.root_pem)],
        capture_output=True, text=True, check=False)


def rendered(settings, job_path: Path) -> tuple[DocumentRenderer, Artifact]:
    """The job's first sample record rendered (not sealed) the way a worker renders it."""
    job = load_job(job_path)
    renderer = DocumentRenderer(job, settings, Period.parse("2026-11"),
                                Period.parse("2026-11").end)
    with SeenKeys(settings.var_dir / "tmp") as seen:
        record = next(r for r in plan_records(open_source(job, settings), RecordSchema(job),
                                              seen, limit=1) if isinstance(r, Record))
    _html, artifact = renderer.render(record, "doc-1")
    return renderer, artifact


def test_a_sealed_run_archives_sealed_pdfs_that_pdfsig_and_openssl_verify(
        pki: TestPki, tmp_path: Path) -> None:
    job = load_job(sealed_project(tmp_path, pki))
    settings = load_settings(REPO, secrets(pki), var_dir=str(tmp_path / "var"), workers=1)
    report = run_job(job, settings, RunOptions(period="2026-11"), InlineExecutor())
    assert report.counts.archived == 2, report.as_dict()
    from factory.archive import open_index, open_store

    index, store = open_index(settings.default_index_url), open_store(
        settings.default_archive_url)
    entries = list(index.documents.entries(job="monthly_statements"))
    index.close()
    assert len(entries) == 2
    for entry in entries:
        data = store.get(entry.storage_key)
        # the archived bytes, the index SHA-256 and the byte size are the sealed ones
        assert hashlib.sha256(data).hexdigest() == entry.sha256
        assert entry.byte_size == len(data)
        assert entry.customer_id in pdf_text(data) or entry.record_key in pdf_text(data)
        out = pdfsig(data, tmp_path)
        assert "Signer Certificate Common Name: Docfactory Test Bank e-seal" in out, out
        assert "Signature Type: ETSI.CAdES.detached" in out
        assert "Total document signed" in out and "Signature is Valid." in out, out
        checked = openssl_ts_verify(data, tmp_path, pki)
        assert checked.returncode == 0 and "Verification: OK" in checked.stdout, \
            checked.stdout + checked.stderr


@pytest.mark.parametrize("profile", ["B-B", "B-T", "B-LT"])
def test_each_profile_keeps_the_rendered_pdf_a_untouched_inside(
        profile: str, pki: TestPki, tmp_path: Path) -> None:
    job_path = sealed_project(tmp_path, pki, customers=1, **seal_table(pki, profile))
    settings = load_settings(REPO, secrets(pki), var_dir=str(tmp_path / "var"))
    renderer, artifact = rendered(settings, job_path)
    sealed = renderer.sealer().seal(artifact)
    # an incremental update: the rendered revision is, byte for byte, the start of the file
    assert sealed.data.startswith(artifact.data) and len(sealed.data) > len(artifact.data)
    assert sealed.sha256 == hashlib.sha256(sealed.data).hexdigest() != artifact.sha256
    assert sealed.page_count == artifact.page_count
    with pikepdf.open(io.BytesIO(artifact.data)) as before, \
            pikepdf.open(io.BytesIO(sealed.data)) as after:
        # PDF/A-3: the XMP packet (pdfaid part 3, conformance B) and the Info dictionary are
        # the renderer's, unchanged; the output intent is still there
        assert after.Root.Metadata.read_bytes() == before.Root.Metadata.read_bytes()
        assert b'pdfaid:part="3"' in after.Root.Metadata.read_bytes()
        assert dict(after.docinfo.items()) == dict(before.docinfo.items())
        assert len(after.Root.OutputIntents) == len(before.Root.OutputIntents) == 1
        field = after.Root.AcroForm.Fields[0]
        # an invisible seal: zero-size widget, printable (PDF/A forbids hidden annotations)
        assert [float(v) for v in field.Rect] == [0, 0, 0, 0] and int(field.F) & 4
        assert str(field.V.SubFilter) == "/ETSI.CAdES.detached"
        if profile == "B-LT":
            dss = after.Root.DSS
            assert len(dss.Certs) >= 2 and (len(dss.get("/OCSPs", [])) +
                                            len(dss.get("/CRLs", []))) >= 1
        else:
            assert "/DSS" not in after.Root
    out = pdfsig(sealed.data, tmp_path)
    assert "Signature is Valid." in out, out
    tokens = PdfFileReader(io.BytesIO(sealed.data)).embedded_signatures[0].signer_info[
        "unsigned_attrs"].native
    if profile == "B-B":
        assert tokens is None
    else:
        checked = openssl_ts_verify(sealed.data, tmp_path, pki)
        assert "Verification: OK" in checked.stdout, checked.stdout + checked.stderr


def test_a_tsa_that_is_down_is_a_retryable_error_and_nothing_is_archived(
        pki: TestPki, tmp_path: Path) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{sock.getsockname()[1]}/tsa"
    spec = SealSpec(profile="B-T", key=str(pki.seal_p12), tsa_url=dead, timeout=2)
    sealer = Sealer(spec, secrets(pki), tmp_path)
    with pytest.raises(RetryableSealError, match="did not answer"):
        sealer.seal(Artifact.of("pdf", "application/pdf", "pdf", _tiny_pdf(), 1))
    job = load_job(sealed_project(tmp_path, pki, customers=1, tsa_url=dead, timeout=2))
    settings = load_settings(REPO, secrets(pki), var_dir=str(tmp_path / "var"), workers=1)
    report = run_job(job, settings, RunOptions(period="2026-11"), InlineExecutor())
    body = report.as_dict()
    assert report.counts.archived == 0 and report.counts.failed == 1, body
    assert any("time-stamping authority" in reason for reason in body["failure_reasons"]), \
        body["failure_reasons"]
    assert not list((tmp_path / "var" / "archive").rglob("*.pdf"))


def _tiny_pdf() -> bytes:
    from weasyprint import HTML

    return HTML(string="<p>x</p>").write_pdf(pdf_variant="pdf/a-3b")


def test_an_expired_certificate_is_a_clear_error_at_validate_and_run(
        pki: TestPki, tmp_path: Path) -> None:
    job_path = sealed_project(tmp_path, pki, customers=1, key=str(pki.expired_p12))
    env = {"FACTORY_HOME": str(REPO), "FACTORY_VAR": str(tmp_path / "var"),
           "FACTORY_WORKERS": "1", **secrets(pki)}
    from factory.cli.app import cli, load_commands

    load_commands()
    result = CliRunner().invoke(cli, ["validate", str(job_path), "--period", "2026-11"],
                                env=env)
    assert result.exit_code == 2, result.output
    assert "expired on" in result.output and "Docfactory Test Bank expired e-seal" in \
        result.output
    assert "Traceback" not in result.output
    settings = load_settings(REPO, secrets(pki), var_dir=str(tmp_path / "var"))
    with pytest.raises(ConfigError, match="expired on"):
        run_job(load_job(job_path), settings, RunOptions(period="2026-11"), InlineExecutor())


def test_a_missing_or_wrong_password_names_the_variable_and_never_shows_the_secret(
        pki: TestPki, tmp_path: Path) -> None:
    spec = SealSpec(profile="B-B", key=str(pki.seal_p12))
    with pytest.raises(ConfigError, match=r"FACTORY_SEAL_PASSWORD .*is not set"):
        Sealer(spec, {}, tmp_path)
    with pytest.raises(ConfigError, match="wrong password") as caught:
        Sealer(spec, {"FACTORY_SEAL_PASSWORD": "not-it-xyz"}, tmp_path)
    assert "not-it-xyz" not in str(caught.value)
    settings = load_settings(REPO, {"FACTORY_SEAL_PASSWORD": "hunter2-secret"})
    assert "hunter2-secret" not in repr(settings)


def test_the_seal_section_is_validated_with_the_field_named(tmp_path: Path,
                                                            pki: TestPki) -> None:
    path = sealed_project(tmp_path, pki, customers=1, profile="B-T")
    text = path.read_text()
    assert f'tsa_url = "{pki.tsa_url}"' in text
    path.write_text(text.replace(f'tsa_url = "{pki.tsa_url}"\n', ""))
    with pytest.raises(ConfigError) as caught:
        load_job(path)
    assert "seal: Value error, profile B-T needs tsa_url" in str(caught.value)


def test_a_retention_class_seals_its_jobs_and_the_payload_carries_no_secret(
        pki: TestPki, tmp_path: Path) -> None:
    sample = tmp_path / "var" / "sample"
    generate(1, sample, seed=5, period="2026-11", fmt="csv")
    job_path = write_job(tmp_path / "jobs", source=csv_source(sample / "customers.csv", None))
    (tmp_path / "docfactory.toml").write_text(
        f"[factory]\ntemplates_dir = '{REPO / 'templates'}'\nassets_dir = '{REPO / 'assets'}'\n"
        f"[factory.seal.statement]\nprofile = 'B-B'\nkey = '{pki.seal_p12}'\n")
    settings = load_settings(tmp_path, secrets(pki), var_dir=str(tmp_path / "var"))
    renderer, artifact = rendered(settings, job_path)
    assert renderer.seal_spec is not None and renderer.seal_spec.profile == "B-B"
    assert "Signature is Valid." in pdfsig(renderer.sealer().seal(artifact).data, tmp_path)
    config = WorkerConfig(job_path=str(job_path), settings=settings, run_id="r1",
                          period="2026-11", issued=Period.parse("2026-11").end,
                          store_url="file:///x", index_url="sqlite:///x.db",
                          template_version="v")
    payload = encode_config(config)
    assert pki.password not in str(payload)
    assert payload["settings"]["seal"]["statement"]["profile"] == "B-B"
    worker_local = load_settings(tmp_path, secrets(pki))
    decoded = decode_config(payload, worker_local)
    assert decoded.settings.seal == settings.seal
    assert decoded.settings.seal_secrets == secrets(pki)


def test_the_email_attaches_the_sealed_pdf_the_archive_holds(
        pki: TestPki, tmp_path: Path, sample_dir: Path, settings, smtp_server) -> None:
    import email
    from email import policy

    from factory.archive import open_index, open_store
    from tests.pipeline.test_channels_run import CASES, customers, renewal_job
    from tests.pipeline.test_channels_run import run as run_renewal

    job = renewal_job(tmp_path / "jobs", customers(tmp_path / "data", sample_dir, CASES[:1]),
                      seal={"profile": "B-B", "key": str(pki.seal_p12)})
    sealing = load_settings(REPO, secrets(pki), var_dir=str(settings.var_dir), workers=1,
                            email_url=smtp_server.url())
    report = run_renewal(job, sealing)
    assert report.counts.archived == 1 and len(smtp_server.messages) == 1, report.as_dict()
    message = email.message_from_bytes(smtp_server.messages[0]["data"], policy=policy.default)
    _alternative, attachment = message.iter_parts()
    index = open_index(sealing.default_index_url)
    (pdf,) = list(index.documents.entries(channel="pdf"))
    index.close()
    archived = open_store(sealing.default_archive_url).get(pdf.storage_key)
    assert attachment.get_content() == archived
    assert hashlib.sha256(archived).hexdigest() == pdf.sha256
    assert "Signature is Valid." in pdfsig(archived, tmp_path)


def test_a_retention_class_seal_is_kept_in_the_snapshot_so_verify_expects_it(
        pki: TestPki, tmp_path: Path) -> None:
    import json

    from sqlalchemy import update
    from weasyprint import HTML

    from factory.archive import open_index, open_store
    from factory.archive.store import sha256_of
    from factory.archive.tables import documents
    from factory.compliance.verify import verify_archive

    sample = tmp_path / "var" / "sample"
    generate(1, sample, seed=5, period="2026-11", fmt="csv")
    job = load_job(write_job(tmp_path / "jobs", source=csv_source(sample / "customers.csv",
                                                                  None)))
    assert job.seal is None
    (tmp_path / "docfactory.toml").write_text(
        f"[factory]\ntemplates_dir = '{REPO / 'templates'}'\nassets_dir = '{REPO / 'assets'}'\n"
        f"[factory.seal.statement]\nprofile = 'B-B'\nkey = '{pki.seal_p12}'\n")
    settings = load_settings(tmp_path, secrets(pki), var_dir=str(tmp_path / "var"), workers=1)
    assert run_job(job, settings, RunOptions(period="2026-11"),
                   InlineExecutor()).counts.archived == 1
    index, store = open_index(settings.default_index_url), open_store(
        settings.default_archive_url)
    (entry,) = list(index.documents.entries())
    snapshot = json.loads(store.get(entry.record_storage_key))
    assert snapshot["computed"]["seal"] == "B-B"
    assert verify_archive(index, store).ok
    forged = HTML(string="<p>forged</p>").write_pdf()
    path = tmp_path / "var" / "archive" / entry.storage_key
    path.chmod(0o644)
    path.write_bytes(forged)
    with index.begin() as conn:
        conn.execute(update(documents).values(sha256=sha256_of(forged), byte_size=len(forged)))
    report = verify_archive(index, store)
    index.close()
    assert [(f.kind, f.document_id) for f in report.findings] == [("seal", entry.document_id)]
    assert "not sealed, although its job sealed" in report.findings[0].detail
