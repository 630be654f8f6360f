"""Seal a finished PDF: a PAdES baseline signature (B-B, B-T, B-LT) made with pyHanko.

Takes a `SealSpec` (profile, key, TSA), the ``FACTORY_SEAL_*`` secrets and the project root;
gives `Sealer`, built once per worker process (the key is decrypted once), whose ``seal`` turns
a PDF `Artifact` into the sealed one (new bytes, new SHA-256, same pages). The seal is an
invisible signature field (``/Rect [0 0 0 0]``, print flag set) added as an incremental update,
so the rendered revision stays byte for byte inside the sealed file and the document stays
PDF/A-3 (see the README's "Sealed documents" for what was checked). ``check`` reports what
makes a seal unusable before a run starts: a certificate that expired or is not yet valid.

Errors: `ConfigError` (key file missing, wrong password, certificate expired), `SealError`
(signing failed), `RetryableSealError` (the TSA, an OCSP responder or a CRL server did not
answer: the record is tried again). pyHanko and pyhanko-certvalidator are imported here only.
"""

from __future__ import annotations

import contextlib
import io
import threading
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from factory.errors import ConfigError, RetryableSealError, SealError
from factory.jobs.seal import SealSpec
from factory.models import Artifact

FIELD_NAME = "DocfactorySeal"
#: A certificate that ends sooner than this is reported by ``check`` (a note, not a problem).
EXPIRY_WARNING = timedelta(days=30)
#: Room for the CMS blob with a timestamp token: asking the TSA for a dry-run token to size it
#: would double the TSA round trips. Too small falls back to pyHanko's own estimate.
#: Counted in hex digits (twice the DER size).
_RESERVED = {"B-B": 8192, "B-T": 16384, "B-LT": 16384}


def key_path(spec: SealSpec, root: Path) -> Path:
    """The PKCS#12 file ``spec.key`` names, absolute."""
    key = spec.key
    if key.startswith("file:"):
        return Path(unquote(urlsplit(key).path))
    path = Path(key).expanduser()
    return path if path.is_absolute() else root / path


def load_signer(spec: SealSpec, secrets: Mapping[str, str], root: Path) -> Any:
    """The pyHanko signer of ``spec``'s key; `ConfigError` naming the file or variable."""
    from pyhanko.sign import signers

    from factory.render.seal_asn1 import install

    install()  # the CMS of every seal encoded in linear time (seal_asn1.py)
    if spec.pkcs11:
        return pkcs11_signer(spec, secrets)
    path = key_path(spec, root)
    if not path.is_file():
        raise ConfigError(f"seal.key: {path}: no such PKCS#12 file")
    password = secrets.get(spec.password_env)
    if password is None:
        raise ConfigError(f"seal.password_env: the environment variable {spec.password_env}"
                          f" (the password of {path.name}) is not set")
    try:
        loaded = signers.SimpleSigner.load_pkcs12_data(path.read_bytes(), (),
                                                       passphrase=password.encode("utf-8"))
    except ValueError:
        raise ConfigError(f"seal.key: {path}: cannot be opened with the password in"
                          f" {spec.password_env} (wrong password, or not a PKCS#12 file)"
                          ) from None
    return _warm_signer(loaded)


def parse_pkcs11_uri(uri: str) -> dict[str, str]:
    """The attributes of an RFC 7512 PKCS#11 URI (path and query, percent-decoded):
    ``pkcs11:token=Seal;object=org-seal?module-path=/usr/lib/softhsm/libsofthsm2.so``."""
    body = uri[len("pkcs11:"):]
    path, _, query = body.partition("?")
    values: dict[str, str] = {}
    for part in [p for p in path.split(";") if p] + [q for q in query.split("&") if q]:
        name, sep, value = part.partition("=")
        if not sep:
            raise ConfigError(f"seal.key {uri!r}: {part!r} is not an attribute=value pair")
        values[unquote(name.strip())] = unquote(value.strip())
    return values


def pkcs11_signer(spec: SealSpec, secrets: Mapping[str, str]) -> Any:
    """A signer on a PKCS#11 token (an HSM, a smart card, SoftHSM): the key and its
    certificate are found by ``object`` (label) or ``id`` (hex) on the token ``token``; the
    session stays open for the life of the process; the PIN comes from ``password_env``."""
    attrs = parse_pkcs11_uri(spec.key)
    module = attrs.get("module-path")
    if not module:
        raise ConfigError(f"seal.key {spec.key!r}: add ?module-path=<the PKCS#11 library>")
    if not Path(module).is_file():
        raise ConfigError(f"seal.key: PKCS#11 module {module}: no such file")
    label, key_id = attrs.get("object"), attrs.get("id")
    if not label and not key_id:
        raise ConfigError(f"seal.key {spec.key!r}: name the key with object=<label> or"
                          " id=<hex>")
    pin = secrets.get(spec.password_env)
    if pin is None:
        raise ConfigError(f"seal.password_env: the environment variable {spec.password_env}"
                          " (the token's PIN) is not set")
    try:
        from pyhanko.config.pkcs11 import TokenCriteria
        from pyhanko.sign.pkcs11 import PKCS11Signer, open_pkcs11_session
    except ImportError:
        raise ConfigError("PKCS#11 seals need python-pkcs11: pip install"
                          " 'docfactory[seal]'") from None
    import pkcs11.exceptions as p11_errors
    from pyhanko.sign.general import SigningError

    token = attrs.get("token")
    try:
        criteria = TokenCriteria(label=token)
        try:
            session = open_pkcs11_session(module, token_criteria=criteria, user_pin=pin)
        except p11_errors.UserAlreadyLoggedIn:  # login is per process and token, not session
            session = open_pkcs11_session(module, token_criteria=criteria, user_pin=None)
        ident = bytes.fromhex(key_id.replace("%", "")) if key_id else None
        signer = PKCS11Signer(session, key_label=label, cert_label=label, key_id=ident,
                              cert_id=ident)
        signer.signing_cert  # noqa: B018 - fetch the certificate now: fail at validate
    except (p11_errors.PKCS11Error, SigningError, ValueError) as exc:
        what = type(exc).__name__
        raise ConfigError(f"seal.key: PKCS#11 token {token or '(first)'}: {what}: {exc}"
                          " (wrong PIN, token or object?)".replace(pin, "***")) from None
    return signer


def _warm_signer(loaded: Any) -> Any:
    """``loaded`` with its private key parsed once: pyHanko's `SimpleSigner.sign_raw` parses
    the DER key again for every signature, which costs ~60 ms for RSA-2048 (cryptography checks
    the key each time), more than the rest of sealing. Only PKCS#1 v1.5 RSA and ECDSA, the
    mechanisms of seal certificates, take the warm path; any other goes to pyHanko's own."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ec import ECDSA, EllipticCurvePrivateKey
    from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
    from pyhanko.sign import signers
    from pyhanko_certvalidator.util import get_pyca_cryptography_hash

    class WarmSigner(signers.SimpleSigner):
        def sign_raw(self, data: bytes, digest_algorithm: str) -> bytes:
            mechanism = self.get_signature_mechanism_for_digest(digest_algorithm).signature_algo
            hash_algo = get_pyca_cryptography_hash(digest_algorithm)
            if mechanism == "rsassa_pkcs1v15" and isinstance(key, RSAPrivateKey):
                return key.sign(data, PKCS1v15(), hash_algo)
            if mechanism == "ecdsa" and isinstance(key, EllipticCurvePrivateKey):
                return key.sign(data, ECDSA(hash_algo))
            return super().sign_raw(data, digest_algorithm)

    key = serialization.load_der_private_key(loaded.signing_key.dump(), password=None)
    return WarmSigner(signing_key=loaded.signing_key, signing_cert=loaded.signing_cert,
                      cert_registry=loaded.cert_registry)


def load_trust(paths: list[str] | tuple[Path, ...], root: Path) -> list[Any]:
    """asn1crypto certificates from PEM or DER files (relative paths: to ``root``)."""
    from pyhanko.keys import load_certs_from_pemder_data

    files = [Path(p) if Path(p).is_absolute() else root / p for p in paths]
    for file in files:
        if not file.is_file():
            raise ConfigError(f"seal trust anchor {file}: no such file")
    try:
        return [cert for file in files for cert in load_certs_from_pemder_data(file.read_bytes())]
    except ValueError as exc:
        raise ConfigError(f"seal trust anchors {', '.join(map(str, files))}: {exc}") from None


def certificate_problems(cert: Any, now: datetime, label: str) -> tuple[list[str], list[str]]:
    """(problems, notes) about the validity period of an asn1crypto certificate."""
    start, end = cert.not_valid_before, cert.not_valid_after
    subject = cert.subject.human_friendly
    if now > end:
        return [f"{label}: the seal certificate ({subject}) expired on"
                f" {end:%Y-%m-%d %H:%M} UTC; renew it before sealing"], []
    if now < start:
        return [f"{label}: the seal certificate ({subject}) is valid only from"
                f" {start:%Y-%m-%d %H:%M} UTC"], []
    if end - now < EXPIRY_WARNING:
        return [], [f"{label}: the seal certificate ({subject}) expires on {end:%Y-%m-%d}"]
    return [], []


class Sealer:
    """A loaded key, timestamper and signature settings; ``seal`` is thread-compatible."""

    def __init__(self, spec: SealSpec, secrets: Mapping[str, str], root: Path) -> None:
        from pyhanko.sign import fields
        from pyhanko.sign.signers.pdf_signer import PdfSignatureMetadata
        from pyhanko.sign.timestamps import HTTPTimeStamper
        from pyhanko_certvalidator import ValidationContext

        self.spec = spec
        self.signer = load_signer(spec, secrets, root)
        self.certificate = self.signer.signing_cert
        from factory.render.tsa_session import KeptAlive

        #: the loop the signatures run on and the TSA session kept alive between them
        self.kept = KeptAlive()
        self.timestamper = (HTTPTimeStamper(spec.tsa_url, timeout=spec.timeout,
                                            session=_kept_session(self.kept))
                            if spec.profile != "B-B" else None)
        context = None
        if spec.profile == "B-LT":
            context = ValidationContext(trust_roots=load_trust(spec.trust, root),
                                        allow_fetching=True, revocation_mode="hard-fail")
        self.meta = PdfSignatureMetadata(
            field_name=FIELD_NAME, subfilter=fields.SigSeedSubFilter.PADES,
            md_algorithm="sha256", reason=spec.reason, location=spec.location,
            embed_validation_info=spec.profile == "B-LT", validation_context=context,
            use_pades_lta=False)

    def check(self, now: datetime | None = None) -> tuple[list[str], list[str]]:
        return certificate_problems(self.certificate, now or datetime.now(UTC),
                                    f"seal.key {self.spec.key}")

    def seal(self, artifact: Artifact) -> Artifact:
        """``artifact`` sealed; raise `RetryableSealError` if a server is down."""
        problems, _notes = self.check()
        if problems:
            raise SealError(problems[0])
        try:
            data = self._sign(artifact.data, _RESERVED[self.spec.profile])
        except _TooSmall:
            data = self._sign(artifact.data, None)
        return Artifact.of(artifact.channel, artifact.media_type, artifact.extension, data,
                           page_count=artifact.page_count)

    def _sign(self, data: bytes, reserved: int | None) -> bytes:
        from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
        from pyhanko.sign import signers
        from pyhanko.sign.general import SigningError
        from pyhanko.sign.timestamps.common_utils import TimestampRequestError
        from pyhanko_certvalidator.errors import PathValidationError, ValidationError

        signer = signers.PdfSigner(self.meta, self.signer, timestamper=self.timestamper)
        try:
            with _metadata_untouched(IncrementalPdfFileWriter):
                writer = IncrementalPdfFileWriter(io.BytesIO(data), strict=False)
                if self.timestamper is None:
                    return bytes(signer.sign_pdf(writer, bytes_reserved=reserved).getvalue())
                # on the process's loop, with the TSA session kept alive (tsa_session.py)
                return bytes(self.kept.run(signer.async_sign_pdf(
                    writer, bytes_reserved=reserved), timeout=4 * self.spec.timeout + 30
                ).getvalue())
        except TimeoutError as exc:
            raise RetryableSealError(f"sealing ({self.spec.profile}) did not finish: {exc}"
                                     ) from None
        except TimestampRequestError as exc:
            raise RetryableSealError(f"the time-stamping authority {self.spec.tsa_url} did"
                                     f" not answer: {_cause(exc)}") from None
        except SigningError as exc:
            if reserved is not None and "larger than expected" in str(exc):
                raise _TooSmall from None
            if _network(exc):
                raise RetryableSealError(f"sealing ({self.spec.profile}) could not reach a"
                                         f" server: {_cause(exc)}") from None
            raise SealError(f"sealing ({self.spec.profile}) failed: {exc}") from None
        except (PathValidationError, ValidationError) as exc:
            raise SealError(f"the seal certificate does not validate for"
                            f" {self.spec.profile}: {exc}") from None
        except OSError as exc:
            raise RetryableSealError(f"sealing ({self.spec.profile}) could not reach a"
                                     f" server: {exc}") from None


_PATCH_LOCK = threading.Lock()


@contextlib.contextmanager
def _metadata_untouched(writer_class: Any) -> Iterator[None]:
    """pyHanko rewrites the Info dictionary and the XMP packet on every save it makes (its
    Producer, a ModifyDate), replacing WeasyPrint's XMP with its own and leaving the two
    disagreeing on the Producer: that breaks PDF/A (ISO 19005-3, 6.6.2.3: Info and XMP must be
    equivalent) and would drop an invoice's Factur-X extension schema. A seal changes no
    metadata, so for the duration of a seal pyHanko's writers (the signature's, and the DSS
    update of B-LT that pyHanko opens itself) leave it alone. Pinned pyHanko; a test compares
    the XMP and Info before and after sealing."""
    with _PATCH_LOCK:
        original = writer_class._update_meta
        writer_class._update_meta = lambda self: None
        try:
            yield
        finally:
            writer_class._update_meta = original


class _TooSmall(Exception):
    pass


def _kept_session(kept: Any) -> Any:
    """What pyHanko's ``HTTPTimeStamper`` takes as ``session``: a ``LazySession`` whose session
    is the kept-alive one, started on the first timestamp."""
    from pyhanko_certvalidator.fetchers.aiohttp_fetchers.util import LazySession

    class KeptSession(LazySession):
        def get_session(self) -> Any:
            return kept.ready()

        async def close(self) -> None:
            return None  # the process's session, closed at exit (KeptAlive.close)

    return KeptSession()  # type: ignore[no-untyped-call]


def _cause(exc: BaseException) -> str:
    inner = exc.__cause__ or exc.__context__
    return f"{type(inner).__name__}: {inner}" if inner else str(exc)


def _network(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OSError) or "Timestamp" in type(seen).__name__ \
                or "Fetch" in type(seen).__name__:
            return True
        seen = seen.__cause__ or seen.__context__
    return False
