"""A seal key on a PKCS#11 token: SoftHSM (a software HSM speaking real PKCS#11), the key and
certificate of the test PKI imported into it, the worker sealing through the token, checked
with pdfsig and openssl ts -verify like a PKCS#12 seal."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from factory.errors import ConfigError
from factory.jobs.seal import SealSpec
from factory.models import Artifact
from factory.render.seal import Sealer, parse_pkcs11_uri
from tests.render.test_seal import openssl_ts_verify, pdfsig
from tests.sealkit import TestPki, serve_pki

MODULE = "/usr/lib/softhsm/libsofthsm2.so"
PIN = "4711-seal"


@pytest.fixture(scope="module")
def token(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("softhsm")
    (folder / "tokens").mkdir()
    conf = folder / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {folder / 'tokens'}\nobjectstore.backend = file\n")
    old = os.environ.get("SOFTHSM2_CONF")
    os.environ["SOFTHSM2_CONF"] = str(conf)  # read by the library when it is first loaded
    env = {**os.environ}
    with serve_pki(folder / "pki") as pki:
        subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", "docfactory",
                        "--pin", PIN, "--so-pin", "so-secret"], check=True, env=env,
                       capture_output=True)
        subprocess.run(["softhsm2-util", "--import", str(pki.folder / "seal.key.pem"),
                        "--token", "docfactory", "--label", "org-seal", "--id", "5e",
                        "--pin", PIN], check=True, env=env, capture_output=True)
        der = folder / "seal.der"
        subprocess.run(["openssl", "x509", "-in", str(pki.seal_pem), "-outform", "DER",
                        "-out", str(der)], check=True)
        subprocess.run(["pkcs11-tool", "--module", MODULE, "--token-label", "docfactory",
                        "--login", "--pin", PIN, "--write-object", str(der), "--type", "cert",
                        "--id", "5e", "--label", "org-seal"], check=True, env=env,
                       capture_output=True)
        yield pki
    if old is None:
        os.environ.pop("SOFTHSM2_CONF", None)
    else:
        os.environ["SOFTHSM2_CONF"] = old


def uri(**changes: str) -> str:
    attrs = {"token": "docfactory", "object": "org-seal", **changes}
    path = ";".join(f"{k}={v}" for k, v in attrs.items() if v)
    return f"pkcs11:{path}?module-path={MODULE}"


def test_the_uri_is_read_as_rfc_7512_says() -> None:
    assert parse_pkcs11_uri("pkcs11:token=My%20Token;object=seal?module-path=/x/y.so") == {
        "token": "My Token", "object": "seal", "module-path": "/x/y.so"}
    with pytest.raises(ConfigError, match="not an attribute=value pair"):
        parse_pkcs11_uri("pkcs11:token")


def test_a_wrong_pin_or_token_is_a_clear_error_without_the_pin(token: TestPki,
                                                              tmp_path: Path) -> None:
    # first in this module: a PKCS#11 login lasts for the process (while a session is open),
    # and a later session on the same token reuses it without asking for the PIN again
    spec = SealSpec(profile="B-B", key=uri())
    with pytest.raises(ConfigError, match="wrong PIN, token or object") as caught:
        Sealer(spec, {"FACTORY_SEAL_PASSWORD": "0000-wrong"}, tmp_path)
    assert "0000-wrong" not in str(caught.value)
    with pytest.raises(ConfigError, match="PKCS#11 token nosuch"):
        Sealer(SealSpec(profile="B-B", key=uri(token="nosuch")),
               {"FACTORY_SEAL_PASSWORD": PIN}, tmp_path)
    with pytest.raises(ConfigError, match="is not set"):
        Sealer(spec, {}, tmp_path)


def test_a_pdf_is_sealed_b_t_with_the_key_on_the_token(token: TestPki, tmp_path: Path) -> None:
    from weasyprint import HTML

    spec = SealSpec(profile="B-T", key=uri(), tsa_url=token.tsa_url)
    sealer = Sealer(spec, {"FACTORY_SEAL_PASSWORD": PIN}, tmp_path)
    assert sealer.check() == ([], [])
    pdf = HTML(string="<h1>Sealed on a token</h1>").write_pdf(pdf_variant="pdf/a-3b")
    sealed = sealer.seal(Artifact.of("pdf", "application/pdf", "pdf", pdf, 1))
    assert sealed.data.startswith(pdf)
    out = pdfsig(sealed.data, tmp_path)
    assert "Docfactory Test Bank e-seal" in out and "Signature is Valid." in out, out
    checked = openssl_ts_verify(sealed.data, tmp_path, token)
    assert "Verification: OK" in checked.stdout, checked.stdout + checked.stderr
    by_id = Sealer(SealSpec(profile="B-B", key=uri(object="", id="5e")),
                   {"FACTORY_SEAL_PASSWORD": PIN}, tmp_path)
    plain = Artifact.of("pdf", "application/pdf", "pdf", pdf, 1)
    assert "Signature is Valid." in pdfsig(by_id.seal(plain).data, tmp_path)
