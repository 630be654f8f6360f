"""The seal's asn1crypto fix (factory/render/seal_asn1.py): the same DER as asn1crypto's own
``dump``, with each node of a structure built in Python encoded once per dump instead of 2**d to
3**d times. The structures are pyHanko's own: the ESS signing-certificate attribute and a whole
PAdES CMS signed with the test PKI's seal key."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from asn1crypto import cms, core, x509
from pyhanko.sign import signers
from pyhanko.sign.general import as_signing_certificate_v2

from factory.render import seal_asn1
from tests.sealkit import PASSWORD, TestPki, serve_pki


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestPki]:
    with serve_pki(tmp_path_factory.mktemp("pki")) as served:
        yield served


@pytest.fixture(scope="module")
def signer(pki: TestPki) -> signers.SimpleSigner:
    return signers.SimpleSigner.load_pkcs12_data(pki.seal_p12.read_bytes(), (),
                                                 passphrase=PASSWORD.encode())


@pytest.fixture
def with_original_dump() -> Iterator[None]:
    """asn1crypto's own ``dump`` for the duration of a test, the fixed one again after."""
    assert seal_asn1.install()
    fixed = core.Asn1Value.dump
    core.Asn1Value.dump = seal_asn1.original_dump()  # type: ignore[method-assign]
    try:
        yield
    finally:
        core.Asn1Value.dump = fixed  # type: ignore[method-assign]


def encodings(build, monkeypatch: pytest.MonkeyPatch) -> tuple[bytes, int]:  # type: ignore[no-untyped-def]
    """(DER, how many times a Sequence was encoded) for one dump of ``build()``."""
    value = build()
    count = 0
    original = core.Sequence._set_contents

    def counting(self, force=False):  # type: ignore[no-untyped-def]
        nonlocal count
        count += 1
        return original(self, force)

    monkeypatch.setattr(core.Sequence, "_set_contents", counting)
    der = value.dump()
    monkeypatch.setattr(core.Sequence, "_set_contents", original)
    return der, count


def signed_cms(signer: signers.SimpleSigner) -> cms.ContentInfo:
    digest = hashlib.sha256(b"a rendered statement").digest()
    # PAdES signed attributes carry no signing time: the same digest gives the same CMS
    return asyncio.run(signer.async_sign(digest, "sha256", use_pades=True))


def test_install_replaces_the_pinned_asn1crypto_dump_once() -> None:
    assert seal_asn1.install()
    fixed = core.Asn1Value.dump
    assert seal_asn1.install()
    assert core.Asn1Value.dump is fixed
    assert seal_asn1.original_dump() is not fixed


def test_another_asn1crypto_version_keeps_its_own_dump(monkeypatch: pytest.MonkeyPatch) -> None:
    import asn1crypto

    original = seal_asn1.original_dump()
    monkeypatch.setattr(core.Asn1Value, "dump", original)
    monkeypatch.setattr(asn1crypto, "__version__", "1.6.0")
    assert seal_asn1.install() is False
    assert core.Asn1Value.dump is original


def test_a_built_signing_certificate_attribute_is_encoded_once_per_node(
        signer: signers.SimpleSigner, monkeypatch: pytest.MonkeyPatch) -> None:
    assert seal_asn1.install()
    cert = signer.signing_cert
    der, fixed_count = encodings(lambda: as_signing_certificate_v2(cert), monkeypatch)
    with monkeypatch.context() as patch:
        patch.setattr(core.Asn1Value, "dump", seal_asn1.original_dump())
        original_der, original_count = encodings(lambda: as_signing_certificate_v2(cert),
                                                 patch)
    assert der == original_der
    # SigningCertificateV2 > ESSCertIDv2 > DigestAlgorithm, IssuerSerial: four Sequences
    # built in Python, once each, and the DigestAlgorithm asn1crypto builds to compare with
    # the field's default; asn1crypto's own dump encodes them 58 times
    assert fixed_count == 5
    assert original_count > 50
    parsed = x509.Certificate.load(cert.dump())
    assert parsed.dump() == cert.dump()


def test_the_whole_cms_of_a_seal_is_byte_for_byte_asn1cryptos(
        signer: signers.SimpleSigner, with_original_dump: None) -> None:
    original = signed_cms(signer).dump()
    again = signed_cms(signer).dump(force=True)
    core.Asn1Value.dump = seal_asn1.original_dump()  # type: ignore[method-assign]
    assert seal_asn1.install() is True
    fixed = signed_cms(signer)
    assert fixed.dump() == original == again
    assert fixed.dump(force=True) == original
    assert cms.ContentInfo.load(original).dump(force=True) == original


def test_explicit_tags_and_indefinite_lengths_encode_as_asn1crypto_does(
        with_original_dump: None) -> None:
    class Inner(core.Sequence):
        _fields: ClassVar[list[Any]] = [("number", core.Integer),
                                        ("text", core.UTF8String, {"explicit": 1})]

    class Outer(core.Sequence):
        _fields: ClassVar[list[Any]] = [("inner", Inner, {"explicit": 0}),
                                        ("flag", core.Boolean, {"default": False})]

    # the same value in BER with indefinite lengths: 30 80 (a0 80 (30 80 (02 01 39,
    # a1 80 (0c 02 "hi") 00 00) 00 00) 00 00) 00 00
    ber = bytes.fromhex("3080a0803080020139a1800c026869" + "0000" * 4)

    def cases() -> list[bytes]:
        built = Outer({"inner": {"number": 57, "text": "hi"}, "flag": True})
        parsed = Outer.load(ber)
        return [built.dump(), built.dump(force=True), parsed.dump(), parsed.dump(force=True),
                Outer.load(built.dump()).dump()]

    original = cases()
    core.Asn1Value.dump = seal_asn1.original_dump()  # type: ignore[method-assign]
    assert seal_asn1.install() is True
    assert cases() == original


def test_a_seal_and_an_export_signature_install_it(pki: TestPki, tmp_path: Path,
                                                   with_original_dump: None) -> None:
    from factory.jobs.seal import SealSpec
    from factory.render.seal import load_signer

    core.Asn1Value.dump = seal_asn1.original_dump()  # type: ignore[method-assign]
    load_signer(SealSpec(profile="B-B", key=str(pki.seal_p12)),
                {"FACTORY_SEAL_PASSWORD": pki.password}, tmp_path)
    assert getattr(core.Asn1Value.dump, "_docfactory_single_read", False)
