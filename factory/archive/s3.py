"""The S3 store: archived objects in any S3-compatible object store (AWS, MinIO, Ceph), via boto3.

Takes an ``s3://bucket/prefix?option=value&...`` URL; gives `S3Store`, a `Store`. Importing this
module registers the ``s3`` scheme (`open_store` imports it lazily, so boto3 is needed only when
an s3:// archive is used). URL options, all optional:

    endpoint_url=http://127.0.0.1:9000   another S3-compatible server (MinIO, Ceph, moto)
    region=eu-central-1                  the bucket's region
    profile=NAME                         a profile of the AWS config files
    addressing=path|virtual              bucket in the path (default for endpoints) or host
    sse=AES256|aws:kms                   server-side encryption of every object
    kms_key_id=ARN                       the KMS key for sse=aws:kms
    lock=auto|on|off                     Object Lock: retention on objects put with a retention
                                         date, and legal holds (`set_legal_hold`). auto
                                         (default): where the bucket has Object Lock enabled;
                                         a bucket without it, or a server that does not
                                         implement the API (501), is used without, and
                                         `notes` says so. on: refuse those. off: never
    lock_mode=governance|compliance      retention mode (default: the bucket's default
                                         retention mode, else governance)
    legal_hold=on                        also place a legal hold on every retained object
                                         (lock_mode and legal_hold need Object Lock, as on)
    multipart_threshold=67108864         bytes from which an object goes up in parts (print
    part_size=16777216                   streams); parts of this many bytes (>= 5 MiB)

Credentials come from the usual AWS sources (environment, shared files, instance or container
role); never from the URL. Keys are the store's deterministic keys under ``prefix``. Every put
sends the content's SHA-256 (the server verifies it; its answer is checked again) and keeps it in
the object's metadata; every get verifies the bytes against it. boto3 and botocore errors are
translated into `ArchiveError` and its kinds (`factory.archive.s3_errors`).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import boto3
from botocore import utils as botocore_utils
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from botocore.handlers import add_expect_header

from factory.archive.keys import check_key
from factory.archive.s3_errors import Missing, no_hold_yet, not_implemented, translate, translated
from factory.archive.store import register_store, sha256_of, verify
from factory.errors import ArchiveError, ConfigError, IntegrityError

OPTIONS = ("endpoint_url", "region", "profile", "addressing", "sse", "kms_key_id", "lock",
           "lock_mode", "legal_hold", "multipart_threshold", "part_size")
MIN_PART = 5 * 1024 * 1024
#: Bodies from this size ask the server first (Expect: 100-continue); smaller ones (statements)
#: go straight, saving a round trip per put.
EXPECT_FROM = 1024 * 1024


def b64_sha256(hex_digest: str) -> str:
    return base64.b64encode(bytes.fromhex(hex_digest)).decode("ascii")


class S3Store:
    """Objects in one bucket under one prefix."""

    def __init__(self, url: str, client: Any = None) -> None:
        parts = urlsplit(url)
        if parts.scheme != "s3" or not parts.netloc:
            raise ConfigError(f"archive URL {url!r}: expected s3://bucket[/prefix][?options]")
        self.bucket = parts.netloc
        self.prefix = parts.path.strip("/")
        if self.prefix:
            check_key(self.prefix)
        options = dict(parse_qsl(parts.query, keep_blank_values=True))
        unknown = sorted(set(options) - set(OPTIONS))
        if unknown:
            raise ConfigError(f"archive URL s3://{self.bucket}/{self.prefix}: unknown option(s)"
                              f" {', '.join(unknown)} (allowed: {', '.join(OPTIONS)})")
        self.options = options
        self.url = f"s3://{self.bucket}/{self.prefix}" + (
            f" ({options['endpoint_url']})" if options.get("endpoint_url") else "")
        self.threshold = _size(options, "multipart_threshold", 64 * 1024 * 1024)
        self.part_size = _size(options, "part_size", 16 * 1024 * 1024)
        if self.part_size < MIN_PART:
            raise ConfigError(f"archive URL {self.url}: part_size must be at least {MIN_PART}")
        self.extra = _encryption(options, self.url)
        self.client = client or _client(options, self.url)
        #: Said once per run in its summary (lock=auto on a bucket or server without Object
        #: Lock); `legal_holds`: whether `set_legal_hold` reaches the bucket's Object Lock.
        self.notes: list[str] = []
        self.legal_holds = False
        self.lock_mode, self.hold_on_put = self._object_lock(options)

    # -- Store -----------------------------------------------------------------------------

    def put(self, key: str, data: bytes, *, media_type: str, sha256: str,
            retain_until: datetime | None = None) -> None:
        verify(key, data, sha256)
        args: dict[str, Any] = {"Bucket": self.bucket, "Key": self._key(key),
                                "ContentType": media_type, "Metadata": {"sha256": sha256},
                                "ChecksumAlgorithm": "SHA256", **self.extra}
        if retain_until is not None and self.lock_mode:
            args["ObjectLockMode"] = self.lock_mode
            args["ObjectLockRetainUntilDate"] = retain_until
            if self.hold_on_put:
                args["ObjectLockLegalHoldStatus"] = "ON"
        with translated(f"{self.url}: cannot write {key}"):
            if len(data) >= self.threshold:
                self._put_multipart(args, data)
            else:
                answer = self.client.put_object(Body=data, ChecksumSHA256=b64_sha256(sha256),
                                                **args)
                echoed = answer.get("ChecksumSHA256")
                if echoed is not None and echoed != b64_sha256(sha256):
                    raise IntegrityError(f"{self.url}: {key}: the server stored a checksum"
                                         f" {echoed} for SHA-256 {sha256}")

    def _put_multipart(self, args: dict[str, Any], data: bytes) -> None:
        upload = self.client.create_multipart_upload(**args)["UploadId"]
        try:
            parts = []
            for number, start in enumerate(range(0, len(data), self.part_size), start=1):
                chunk = data[start:start + self.part_size]
                digest = base64.b64encode(hashlib.sha256(chunk).digest()).decode("ascii")
                answer = self.client.upload_part(
                    Bucket=args["Bucket"], Key=args["Key"], UploadId=upload, PartNumber=number,
                    Body=chunk, ChecksumAlgorithm="SHA256", ChecksumSHA256=digest)
                parts.append({"PartNumber": number, "ETag": answer["ETag"],
                              "ChecksumSHA256": answer.get("ChecksumSHA256", digest)})
            self.client.complete_multipart_upload(
                Bucket=args["Bucket"], Key=args["Key"], UploadId=upload,
                MultipartUpload={"Parts": parts})
            # Some S3-compatible servers ignore lock headers on CreateMultipartUpload: set the
            # retention (and hold) on the finished object explicitly, the same values again.
            if "ObjectLockMode" in args:
                self.client.put_object_retention(
                    Bucket=args["Bucket"], Key=args["Key"], Retention={
                        "Mode": args["ObjectLockMode"],
                        "RetainUntilDate": args["ObjectLockRetainUntilDate"]})
            if "ObjectLockLegalHoldStatus" in args:
                self.client.put_object_legal_hold(Bucket=args["Bucket"], Key=args["Key"],
                                                  LegalHold={"Status": "ON"})
        except BaseException:
            with contextlib.suppress(ClientError, BotoCoreError):
                self.client.abort_multipart_upload(Bucket=args["Bucket"], Key=args["Key"],
                                                   UploadId=upload)
            raise

    def get(self, key: str) -> bytes:
        with translated(f"{self.url}: cannot read {key}", missing=f"{self.url}: no object {key}"):
            answer = self.client.get_object(Bucket=self.bucket, Key=self._key(key),
                                            ChecksumMode="ENABLED")
            data: bytes = answer["Body"].read()
        expected = answer.get("Metadata", {}).get("sha256")
        if expected:
            verify(f"{self.url}: {key}", data, expected)
        return data

    def delete(self, key: str) -> None:
        with translated(f"{self.url}: cannot delete {key}"):
            self.client.delete_object(Bucket=self.bucket, Key=self._key(key))

    def keys(self, prefix: str = "") -> Iterator[str]:
        root = f"{self.prefix}/" if self.prefix else ""
        with translated(f"{self.url}: cannot list {prefix!r}"):
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=root + prefix)
            for page in pages:
                for item in page.get("Contents", []):
                    yield item["Key"][len(root):]

    def exists(self, key: str) -> bool:
        try:
            with translated(f"{self.url}: cannot look up {key}", missing=""):
                self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        except Missing:
            return False
        return True

    # -- legal hold (`factory.compliance.retention.HoldableStore`) ---------------------------

    def set_legal_hold(self, key: str, hold: bool) -> None:
        """Set or clear the Object Lock legal hold of ``key``; nothing to do (the hold lives in
        the index only) when the bucket has no Object Lock or the URL says lock=off."""
        if not self.legal_holds:
            return
        with translated(f"{self.url}: cannot {'place' if hold else 'release'} the legal hold"
                         f" of {key}", missing=f"{self.url}: no object {key}"):
            self.client.put_object_legal_hold(Bucket=self.bucket, Key=self._key(key),
                                              LegalHold={"Status": "ON" if hold else "OFF"})

    def legal_hold(self, key: str) -> bool | None:
        """Whether S3 holds ``key`` (GetObjectLegalHold); None when holds stay in the index."""
        if not self.legal_holds:
            return None
        try:
            with translated(f"{self.url}: cannot read the legal hold of {key}", missing="",
                             passthrough=no_hold_yet):
                answer = self.client.get_object_legal_hold(Bucket=self.bucket,
                                                           Key=self._key(key))
        except Missing:
            raise ArchiveError(f"{self.url}: no object {key}") from None
        except ClientError:  # _no_hold_yet: never held
            return False
        return bool(answer.get("LegalHold", {}).get("Status") == "ON")

    # -- details ---------------------------------------------------------------------------

    def retention(self, key: str) -> dict[str, Any]:
        """The Object Lock state of ``key``: mode, retain-until date, legal hold (or empty)."""
        with translated(f"{self.url}: cannot read {key}", missing=f"{self.url}: no object {key}"):
            head = self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        return {name: head[name] for name in ("ObjectLockMode", "ObjectLockRetainUntilDate",
                                              "ObjectLockLegalHoldStatus") if name in head}

    def _key(self, key: str) -> str:
        check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def _object_lock(self, options: dict[str, str]) -> tuple[str | None, bool]:
        """(retention mode, hold on put) from the options and what the bucket has; sets
        `legal_holds` and, for lock=auto without Object Lock, a note."""
        wanted = options.get("lock", "auto").lower()
        if wanted not in ("auto", "on", "off"):
            raise ConfigError(f"archive URL {self.url}: lock must be auto, on or off")
        with translated(f"{self.url}: bucket {self.bucket!r}",
                         missing=f"{self.url}: bucket {self.bucket!r} does not exist",
                         missing_error=ConfigError):
            self.client.head_bucket(Bucket=self.bucket)
        if wanted == "off":
            return None, False
        hold_on_put = options.get("legal_hold", "").lower() in ("on", "1", "true", "yes")
        config, unsupported = self._lock_configuration()
        if config.get("ObjectLockEnabled") != "Enabled":
            why = (f"the server does not implement Object Lock ({unsupported})" if unsupported
                   else f"bucket {self.bucket!r} does not have Object Lock enabled")
            if wanted == "on" or "lock_mode" in options or hold_on_put:
                hint = ("use a server with Object Lock" if unsupported else
                        "create the bucket with Object Lock")
                raise ConfigError(f"archive URL {self.url}: {why}, which lock=on, lock_mode"
                                  f" and legal_hold need ({hint}, or drop those options)")
            self.notes.append(f"{self.url}: {why}: documents are archived without retention"
                              " lock, and legal holds are kept in the index only (lock=auto)")
            return None, False
        self.legal_holds = True
        default = config.get("Rule", {}).get("DefaultRetention", {}).get("Mode", "GOVERNANCE")
        mode = options.get("lock_mode", default).upper()
        if mode not in ("GOVERNANCE", "COMPLIANCE"):
            raise ConfigError(f"archive URL {self.url}: lock_mode must be governance or"
                              " compliance")
        return mode, hold_on_put

    def _lock_configuration(self) -> tuple[dict[str, Any], str]:
        """The bucket's Object Lock configuration ({} when it has none) and, when the server
        does not implement the API at all (s3rver, some gateways: 501 NotImplemented), its
        answer; that is a fact about the server, not a failure to retry."""
        try:
            with translated(f"{self.url}: bucket {self.bucket!r}", missing="",
                             passthrough=not_implemented):
                answer = self.client.get_object_lock_configuration(Bucket=self.bucket)
        except Missing:
            return {}, ""
        except ClientError as exc:
            error = exc.response.get("Error", {})
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            return {}, f"GetObjectLockConfiguration answered {status} {error.get('Code')}"
        return answer.get("ObjectLockConfiguration", {}), ""


def _size(options: dict[str, str], name: str, default: int) -> int:
    try:
        value = int(options.get(name, default))
    except ValueError:
        raise ConfigError(f"archive URL option {name} must be a number of bytes") from None
    if value < 1:
        raise ConfigError(f"archive URL option {name} must be positive")
    return value


def _encryption(options: dict[str, str], where: str) -> dict[str, str]:
    sse = options.get("sse")
    if not sse:
        if options.get("kms_key_id"):
            raise ConfigError(f"archive URL {where}: kms_key_id needs sse=aws:kms")
        return {}
    if sse not in ("AES256", "aws:kms", "aws:kms:dsse"):
        raise ConfigError(f"archive URL {where}: sse must be AES256, aws:kms or aws:kms:dsse")
    extra = {"ServerSideEncryption": sse}
    if options.get("kms_key_id"):
        extra["SSEKMSKeyId"] = options["kms_key_id"]
    return extra


def _client(options: dict[str, str], where: str) -> Any:
    endpoint = options.get("endpoint_url") or None
    addressing = options.get("addressing") or ("path" if endpoint else "auto")
    if addressing not in ("path", "virtual", "auto"):
        raise ConfigError(f"archive URL {where}: addressing must be path or virtual")
    config = Config(
        retries={"max_attempts": 4, "mode": "standard"},
        max_pool_connections=16, connect_timeout=10, read_timeout=60,
        s3={"addressing_style": addressing},
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    try:
        session = boto3.session.Session(profile_name=options.get("profile") or None)
        client = session.client("s3", endpoint_url=endpoint,
                                region_name=options.get("region") or None, config=config)
    except BotoCoreError as exc:
        raise ConfigError(f"archive URL {where}: {exc}") from None
    client.meta.events.unregister("before-call.s3", add_expect_header)
    client.meta.events.register("before-call.s3", _expect_large_bodies)
    return client


def _expect_large_bodies(model: Any, params: dict[str, Any], **_kwargs: Any) -> None:
    """botocore's Expect: 100-continue, for large bodies only."""
    if model.http.get("method", "") not in ("PUT", "POST") or "body" not in params:
        return
    size = botocore_utils.determine_content_length(params["body"])
    if size is None or size >= EXPECT_FROM:
        params["headers"]["Expect"] = "100-continue"


def _s3_store(url: str) -> S3Store:
    return S3Store(url)


register_store("s3", _s3_store)

__all__ = ["S3Store", "b64_sha256", "sha256_of", "translate"]
