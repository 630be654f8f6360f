"""Object Lock and legal holds on two S3 implementations on loopback: moto's server (Object
Lock implemented) and npm's s3rver (no Object Lock API: 501 NotImplemented). What the store
does with each, and what `archive hold/release/verify/get` and `run`/`validate` make of it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from factory.archive.s3 import S3Store
from factory.archive.store import sha256_of
from factory.errors import ConfigError
from tests.fixtures_cluster import S3Server

PDF = "application/pdf"


def put(store: S3Store, key: str, data: bytes, **kwargs: object) -> None:
    store.put(key, data, media_type=PDF, sha256=sha256_of(data), **kwargs)  # type: ignore[arg-type]


def s3_hold(server: S3Server, bucket: str, key: str) -> str:
    """The object's legal hold as the S3 API itself reports it (OFF when never set)."""
    client = server.client()
    try:
        answer = client.get_object_legal_hold(Bucket=bucket, Key=key)  # type: ignore[attr-defined]
    except client.exceptions.ClientError as exc:  # type: ignore[attr-defined]
        if exc.response["Error"]["Code"] == "NoSuchObjectLockConfiguration":
            return "OFF"
        raise
    return answer["LegalHold"]["Status"]


# -- the store -----------------------------------------------------------------------------------

def test_lock_auto_on_a_server_without_object_lock_archives_without_it(s3rver: S3Server
                                                                       ) -> None:
    bucket = s3rver.bucket()
    store = S3Store(f"s3://{bucket}/docs?endpoint_url={s3rver.endpoint}")
    assert store.lock_mode is None and not store.legal_holds
    assert len(store.notes) == 1 and "does not implement Object Lock" in store.notes[0]
    until = datetime.now(UTC) + timedelta(days=3650)
    put(store, "job/2026-11/C1/d.pdf", b"%PDF statement", retain_until=until)
    assert store.get("job/2026-11/C1/d.pdf") == b"%PDF statement"
    assert store.legal_hold("job/2026-11/C1/d.pdf") is None  # nothing to ask the server
    store.set_legal_hold("job/2026-11/C1/d.pdf", True)  # index-only: no call, no error


def test_lock_on_is_refused_on_a_server_without_object_lock(s3rver: S3Server) -> None:
    bucket = s3rver.bucket()
    for option in ("lock=on", "lock_mode=compliance", "legal_hold=on"):
        with pytest.raises(ConfigError, match="does not implement Object Lock"):
            S3Store(f"s3://{bucket}?endpoint_url={s3rver.endpoint}&{option}")
    off = S3Store(f"s3://{bucket}?endpoint_url={s3rver.endpoint}&lock=off")
    assert off.notes == [] and off.lock_mode is None


def test_a_bucket_without_object_lock_says_so_once(s3_server: S3Server) -> None:
    store = S3Store(f"s3://{s3_server.bucket(lock=False)}?endpoint_url={s3_server.endpoint}")
    assert store.lock_mode is None and not store.legal_holds
    assert len(store.notes) == 1 and "Object Lock is not enabled" in store.notes[0]
    locked = S3Store(f"s3://{s3_server.bucket(lock=True)}?endpoint_url={s3_server.endpoint}")
    assert locked.notes == [] and locked.legal_holds


def test_set_legal_hold_reaches_the_object(s3_server: S3Server) -> None:
    bucket = s3_server.bucket(lock=True)
    store = S3Store(f"s3://{bucket}/docs?endpoint_url={s3_server.endpoint}")
    put(store, "job/2026-11/C1/d.pdf", b"%PDF held",
        retain_until=datetime.now(UTC) + timedelta(days=30))
    assert store.legal_hold("job/2026-11/C1/d.pdf") is False
    store.set_legal_hold("job/2026-11/C1/d.pdf", True)
    assert s3_hold(s3_server, bucket, "docs/job/2026-11/C1/d.pdf") == "ON"
    assert store.legal_hold("job/2026-11/C1/d.pdf") is True
    store.set_legal_hold("job/2026-11/C1/d.pdf", False)
    assert s3_hold(s3_server, bucket, "docs/job/2026-11/C1/d.pdf") == "OFF"
    assert store.legal_hold("job/2026-11/C1/d.pdf") is False

