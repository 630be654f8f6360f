"""A real test PKI on loopback for the sealing tests: a root CA, the organisation's seal
certificate (and an expired one), a time-stamping authority, an OCSP responder and a CRL,
all served over HTTP by certomancer's Animator on 127.0.0.1.

Keys are generated with `cryptography` in a temporary folder; certomancer issues the
certificates and answers RFC 3161 time-stamp requests, OCSP requests and CRL downloads exactly
as a real TSA / CA would (DER over HTTP). `TestPki` gives the PKCS#12 files, PEM files and
URLs the tests configure the factory with.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

ARCH = "docfactory-test"
PASSWORD = "seal-test-secret"
KEYS = ("root", "seal", "expired", "tsa", "ocsp")


@dataclass
class TestPki:
    __test__ = False
    folder: Path
    url: str
    tsa_url: str
    seal_p12: Path
    expired_p12: Path
    root_pem: Path
    tsa_pem: Path
    seal_pem: Path
    password: str = PASSWORD


def _free_port() -> int:
    with contextlib.closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _when(delta: timedelta) -> str:
    return (datetime.now(UTC) + delta).strftime("%Y-%m-%dT%H:%M:%S+0000")


def _config(prefix: str) -> str:
    keys = "\n".join(f"      {k}:\n        path: {k}.key.pem" for k in KEYS)
    past, future = _when(timedelta(days=-400)), _when(timedelta(days=3650))
    leaf_ext = """
        extensions:
          - id: key_usage
            critical: true
            smart-value:
              schema: key-usage
              params: [digital_signature, non_repudiation]
          - id: crl_distribution_points
            smart-value:
              schema: crl-dist-url
              params:
                crl-repo-names: [root]
          - id: authority_information_access
            smart-value:
              schema: aia-urls
              params:
                ocsp-responder-names: [root-ocsp]
"""
    return f"""
external-url-prefix: "{prefix}"
keysets:
  test:
    keys:
{keys}
pki-architectures:
  {ARCH}:
    keyset: test
    entity-defaults:
      country-name: CZ
      organization-name: Docfactory Test Bank
    entities:
      root: {{common-name: Docfactory Test Root CA}}
      seal: {{common-name: Docfactory Test Bank e-seal}}
      expired: {{common-name: Docfactory Test Bank expired e-seal}}
      tsa: {{common-name: Docfactory Test TSA}}
      ocsp: {{common-name: Docfactory Test OCSP}}
    certs:
      root:
        subject: root
        issuer: root
        validity: {{valid-from: "{past}", valid-to: "{_when(timedelta(days=7300))}"}}
        profiles:
          - id: simple-ca
      seal:
        issuer: root
        validity: {{valid-from: "{past}", valid-to: "{future}"}}{leaf_ext}
      expired:
        issuer: root
        validity: {{valid-from: "{past}", valid-to: "{_when(timedelta(days=-10))}"}}{leaf_ext}
      tsa:
        issuer: root
        validity: {{valid-from: "{past}", valid-to: "{future}"}}
        extensions:
          - id: key_usage
            critical: true
            smart-value:
              schema: key-usage
              params: [digital_signature]
          - id: extended_key_usage
            critical: true
            value: [time_stamping]
          - id: crl_distribution_points
            smart-value:
              schema: crl-dist-url
              params:
                crl-repo-names: [root]
      ocsp:
        issuer: root
        validity: {{valid-from: "{past}", valid-to: "{future}"}}
        profiles:
          - ocsp-responder
    services:
      ocsp:
        root-ocsp:
          for-issuer: root
          responder-cert: ocsp
          signing-key: ocsp
      crl-repo:
        root:
          for-issuer: root
          signing-key: root
          simulated-update-schedule: "P30D"
      time-stamping:
        tsa:
          signing-key: tsa
          signing-cert: tsa
"""


def _write_keys(folder: Path) -> None:
    for name in KEYS:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        (folder / f"{name}.key.pem").write_bytes(key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()))


@contextlib.contextmanager
def serve_pki(folder: Path):
    """Build the PKI in ``folder`` and serve it on loopback for the life of the context."""
    from certomancer.integrations.animator import Animator, AnimatorArchStore
    from certomancer.registry import CertomancerConfig
    from werkzeug.serving import make_server

    folder.mkdir(parents=True, exist_ok=True)
    _write_keys(folder)
    port = _free_port()
    prefix = f"http://127.0.0.1:{port}"
    config = CertomancerConfig.from_yaml(_config(prefix), key_search_dir=str(folder))
    arch = config.get_pki_arch(ARCH)
    for label in ("seal", "expired"):
        (folder / f"{label}.p12").write_bytes(arch.package_pkcs12(
            label, certs_to_embed=["root"], password=PASSWORD.encode()))
    for label in ("root", "tsa", "seal"):
        (folder / f"{label}.pem").write_bytes(_pem(arch.get_cert(label).dump()))
    app = Animator(AnimatorArchStore({ARCH: arch}), with_web_ui=False)
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield TestPki(folder=folder, url=prefix, tsa_url=f"{prefix}/{ARCH}/tsa/tsa",
                      seal_p12=folder / "seal.p12", expired_p12=folder / "expired.p12",
                      root_pem=folder / "root.pem", tsa_pem=folder / "tsa.pem",
                      seal_pem=folder / "seal.pem")
    finally:
        server.shutdown()
        thread.join(timeout=5)


def _pem(der: bytes) -> bytes:
    from asn1crypto import pem

    return pem.armor("CERTIFICATE", der)


def build_sealed_project(root: Path, pki: TestPki, customers: int = 2,
                         profile: str = "B-T") -> Path:
    """A project folder (jobs/, var/) whose statements for 2026-11 were run and sealed."""
    from factory.config import load_settings
    from factory.executors import InlineExecutor
    from factory.jobs import load_job
    from factory.runner import RunOptions, run_job
    from factory.samples.customers import generate
    from tests.conftest import REPO, csv_source, write_job

    sample = root / "var" / "sample"
    generate(customers, sample, seed=3, period="2026-11", fmt="csv")
    seal = {"profile": profile, "key": str(pki.seal_p12)}
    if profile != "B-B":
        seal["tsa_url"] = pki.tsa_url
    job = load_job(write_job(root / "jobs", "monthly_statements.toml",
                             source=csv_source(sample / "customers.csv",
                                               sample / "transactions.csv"), seal=seal))
    settings = load_settings(REPO, {"FACTORY_SEAL_PASSWORD": pki.password},
                             var_dir=str(root / "var"), workers=1)
    report = run_job(job, settings, RunOptions(period="2026-11"), InlineExecutor())
    assert report.counts.archived == customers, report.as_dict()
    return root
