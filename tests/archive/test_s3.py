"""The S3 store through boto3 over HTTP against moto's standalone S3 server on loopback:
keys, checksums sent and verified, Object Lock retention and legal hold, multipart uploads,
server-side encryption, and vendor errors translated into ours."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from factory.archive import open_store
from factory.archive.s3 import S3Store, translate
from factory.archive.store import sha256_of
from factory.errors import (
    ArchiveError,
    ConfigError,
    IntegrityError,
    RetryableArchiveError,
)
from tests.fixtures_cluster import S3Server

PDF = "application/pdf"


def put(store: S3Store, key: str, data: bytes, **kwargs: object) -> None:
    store.put(key, data, media_type=PDF, sha256=sha256_of(data), **kwargs)  # type: ignore[arg-type]


def test_round_trip_under_a_prefix(s3_server: S3Server) -> None:
    bucket = s3_server.bucket()
    store = open_store(f"s3://{bucket}/archive/eu?endpoint_url={s3_server.endpoint}")
    assert isinstance(store, S3Store)
    data = b"%PDF-1.7 statement"
    put(store, "job/2026-11/C1/d.pdf", data)
    put(store, "job/2026-11/C2/e.pdf", b"other")
    raw = s3_server.client().get_object(Bucket=bucket, Key="archive/eu/job/2026-11/C1/d.pdf")
    assert raw["Body"].read() == data and raw["ContentType"] == PDF
    assert raw["Metadata"]["sha256"] == sha256_of(data)
    assert store.get("job/2026-11/C1/d.pdf") == data
    assert sorted(store.keys("job/")) == ["job/2026-11/C1/d.pdf", "job/2026-11/C2/e.pdf"]
    assert list(store.keys("job/2026-11/C2")) == ["job/2026-11/C2/e.pdf"]
    assert store.exists("job/2026-11/C1/d.pdf") and not store.exists("job/x.pdf")
    store.delete("job/2026-11/C1/d.pdf")
    assert not store.exists("job/2026-11/C1/d.pdf")
    store.delete("job/2026-11/C1/d.pdf")  # already gone: no error
    with pytest.raises(ArchiveError, match=r"no object job/2026-11/C1/d\.pdf"):
        store.get("job/2026-11/C1/d.pdf")
    with pytest.raises(ArchiveError, match="invalid storage key"):
        put(store, "../escape.pdf", b"x")


def test_a_wrong_checksum_is_refused_before_sending(s3_server: S3Server) -> None:
    bucket = s3_server.bucket()
    store = S3Store(f"s3://{bucket}?endpoint_url={s3_server.endpoint}")
    with pytest.raises(IntegrityError, match="SHA-256"):
        store.put("a/b.pdf", b"data", media_type=PDF, sha256=sha256_of(b"other"))
    assert not store.exists("a/b.pdf")


def test_bytes_that_do_not_match_their_checksum_are_refused_on_read(s3_server: S3Server
                                                                    ) -> None:
    """An object whose stored bytes differ from its SHA-256 (corrupted, or written by
    something else) is never returned as good."""
    bucket = s3_server.bucket()
    store = S3Store(f"s3://{bucket}?endpoint_url={s3_server.endpoint}")
    client = s3_server.client()
    claimed = hashlib.sha256(b"the original").digest()
    client.put_object(Bucket=bucket, Key="a/sent.pdf", Body=b"tampered",
                      ChecksumAlgorithm="SHA256",
                      ChecksumSHA256=base64.b64encode(claimed).decode())
    with pytest.raises(IntegrityError):
        store.get("a/sent.pdf")
    client.put_object(Bucket=bucket, Key="a/meta.pdf", Body=b"tampered",
                      Metadata={"sha256": claimed.hex()})
    with pytest.raises(IntegrityError, match="SHA-256"):
        store.get("a/meta.pdf")


def test_object_lock_retention_and_legal_hold(s3_server: S3Server) -> None:
    bucket = s3_server.bucket(lock=True)
    url = f"s3://{bucket}/docs?endpoint_url={s3_server.endpoint}"
    until = (datetime.now(UTC) + timedelta(days=3650)).replace(microsecond=0)
    compliance = S3Store(url + "&lock_mode=compliance&legal_hold=on")
    put(compliance, "job/2026-11/C1/d.pdf", b"kept ten years", retain_until=until)
    state = compliance.retention("job/2026-11/C1/d.pdf")
    assert state["ObjectLockMode"] == "COMPLIANCE"
    assert state["ObjectLockRetainUntilDate"] == until
    assert state["ObjectLockLegalHoldStatus"] == "ON"
    client = s3_server.client()
    version = client.head_object(Bucket=bucket, Key="docs/job/2026-11/C1/d.pdf")["VersionId"]
    with pytest.raises(ClientError):  # the bucket refuses to destroy a retained version
        client.delete_object(Bucket=bucket, Key="docs/job/2026-11/C1/d.pdf", VersionId=version)
    assert compliance.get("job/2026-11/C1/d.pdf") == b"kept ten years"

    default = S3Store(url)  # a bucket with Object Lock: governance unless told otherwise
    put(default, "job/2026-11/C2/d.pdf", b"two years", retain_until=until)
    state = default.retention("job/2026-11/C2/d.pdf")
    assert state["ObjectLockMode"] == "GOVERNANCE"
    assert "ObjectLockLegalHoldStatus" not in state or \
        state["ObjectLockLegalHoldStatus"] == "OFF"
    put(default, "_template-sets/v.zip", b"no retention date")
    assert "ObjectLockMode" not in default.retention("_template-sets/v.zip")
    off = S3Store(url + "&lock=off")
    put(off, "job/2026-11/C3/d.pdf", b"unlocked", retain_until=until)
    assert "ObjectLockMode" not in off.retention("job/2026-11/C3/d.pdf")


def test_object_lock_asked_of_a_bucket_without_it(s3_server: S3Server) -> None:
    bucket = s3_server.bucket(lock=False)
    with pytest.raises(ConfigError, match="does not have Object Lock enabled"):
        S3Store(f"s3://{bucket}?endpoint_url={s3_server.endpoint}&lock=on")
    with pytest.raises(ConfigError, match="does not have Object Lock enabled"):
        S3Store(f"s3://{bucket}?endpoint_url={s3_server.endpoint}&lock_mode=compliance")
    store = S3Store(f"s3://{bucket}?endpoint_url={s3_server.endpoint}")
    put(store, "a/b.pdf", b"x", retain_until=datetime.now(UTC) + timedelta(days=1))
    assert "ObjectLockMode" not in store.retention("a/b.pdf")


def test_large_objects_go_up_in_parts_with_checksums(s3_server: S3Server) -> None:
    bucket = s3_server.bucket(lock=True)
    store = S3Store(f"s3://{bucket}/print?endpoint_url={s3_server.endpoint}"
                    f"&multipart_threshold={5 * 2**20}&part_size={5 * 2**20}")
    data = bytes(range(256)) * (11 * 2**20 // 256 + 3)  # 11 MiB and a bit: three parts
    until = datetime.now(UTC).replace(microsecond=0) + timedelta(days=30)
    put(store, "job/2026-11/print-stream.pdf", data, retain_until=until)
    head = s3_server.client().head_object(Bucket=bucket, Key="print/job/2026-11/print-stream.pdf")
    assert head["ETag"].strip('"').endswith("-3")
    assert head["ContentLength"] == len(data)
    assert head["ObjectLockMode"] == "GOVERNANCE"
    assert store.get("job/2026-11/print-stream.pdf") == data
    assert not s3_server.client().list_multipart_uploads(Bucket=bucket).get("Uploads")


def test_server_side_encryption(s3_server: S3Server) -> None:
    bucket = s3_server.bucket()
    store = S3Store(f"s3://{bucket}?endpoint_url={s3_server.endpoint}&sse=AES256")
    put(store, "a/b.pdf", b"secret statement")
    head = s3_server.client().head_object(Bucket=bucket, Key="a/b.pdf")
    assert head["ServerSideEncryption"] == "AES256"
    with pytest.raises(ConfigError, match="sse must be"):
        S3Store(f"s3://{bucket}?endpoint_url={s3_server.endpoint}&sse=rot13")


def test_configuration_errors_are_clear(s3_server: S3Server) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        S3Store(f"s3://no-such-bucket-here?endpoint_url={s3_server.endpoint}")
    with pytest.raises(ConfigError, match=r"unknown option.*secret"):
        S3Store(f"s3://bucket?endpoint_url={s3_server.endpoint}&secret=x")
    with pytest.raises(ConfigError, match="expected s3://bucket"):
        S3Store("s3:///nobucket")


def test_an_unreachable_endpoint_is_retryable() -> None:
    with pytest.raises(RetryableArchiveError):
        S3Store("s3://bucket?endpoint_url=http://127.0.0.1:9")


@pytest.mark.parametrize(("code", "status", "kind"), [
    ("SlowDown", 503, RetryableArchiveError),
    ("InternalError", 500, RetryableArchiveError),
    ("RequestTimeout", 400, RetryableArchiveError),
    ("BadDigest", 400, IntegrityError),
    ("XAmzContentSHA256Mismatch", 400, IntegrityError),
    ("AccessDenied", 403, ArchiveError),
    ("NoSuchBucket", 404, ConfigError),
])
def test_client_errors_are_translated(code: str, status: int, kind: type) -> None:
    error = ClientError({"Error": {"Code": code, "Message": "m"},
                         "ResponseMetadata": {"HTTPStatusCode": status}}, "PutObject")
    translated = translate(error, "s3://b")
    assert type(translated) is kind
    assert translated.retryable == (kind is RetryableArchiveError)
    assert type(translate(EndpointConnectionError(endpoint_url="http://x"), "s3://b")) is \
        RetryableArchiveError
