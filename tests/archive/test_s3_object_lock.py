"""Object Lock and legal holds on two S3 implementations on loopback: moto's server (Object
Lock implemented) and npm's s3rver (no Object Lock API: 501 NotImplemented). What the store
does with each, and what `archive hold/release/verify/get` and `run`/`validate` make of it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from factory.archive import open_index
from factory.archive.s3 import S3Store
from factory.archive.store import sha256_of
from factory.cli.app import cli, load_commands
from factory.errors import ConfigError
from factory.models import ArchiveEntry
from factory.samples.customers import generate
from tests.conftest import REPO, csv_source, write_job
from tests.fixtures_cluster import S3Server

load_commands()

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
    return answer["LegalHold"].get("Status", "OFF")  # moto: {} for an object never held


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
    auto = S3Store(f"s3://{bucket}?endpoint_url={s3rver.endpoint}&legal_hold=off")
    assert auto.lock_mode is None and len(auto.notes) == 1  # off asks nothing of the server
    off = S3Store(f"s3://{bucket}?endpoint_url={s3rver.endpoint}&lock=off")
    assert off.notes == [] and off.lock_mode is None


def test_a_bucket_without_object_lock_says_so_once(s3_server: S3Server) -> None:
    store = S3Store(f"s3://{s3_server.bucket(lock=False)}?endpoint_url={s3_server.endpoint}")
    assert store.lock_mode is None and not store.legal_holds
    assert len(store.notes) == 1 and "does not have Object Lock enabled" in store.notes[0]
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



# -- the commands, on a real archive in each server ------------------------------------------------

@dataclass
class Project:
    """Sample data, a statement job and the environment of `docfactory` commands."""

    job: Path
    env: dict[str, str]
    bucket: str

    def invoke(self, *args: str, archive_url: str | None = None) -> Result:
        env = {**self.env, **({"FACTORY_ARCHIVE_URL": archive_url} if archive_url else {})}
        return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)

    def entries(self) -> list[ArchiveEntry]:
        index = open_index(f"sqlite:///{self.env['FACTORY_VAR']}/index.db")
        try:
            return list(index.documents.entries())
        finally:
            index.close()


def project(tmp_path: Path, server: S3Server, lock: bool, options: str = "") -> Project:
    sample = tmp_path / "sample"
    generate(2, sample, seed=5, period="2026-11", fmt="csv")
    job = write_job(tmp_path / "jobs", source=csv_source(sample / "customers.csv",
                                                          sample / "transactions.csv"))
    bucket = server.bucket(lock=lock)
    env = {"FACTORY_HOME": str(REPO), "FACTORY_VAR": str(tmp_path / "var"),
           "FACTORY_WORKERS": "1",
           "FACTORY_ARCHIVE_URL": f"s3://{bucket}/archive?endpoint_url={server.endpoint}"
                                  f"{options}"}
    return Project(job, env, bucket)


def run(built: Project) -> Result:
    result = built.invoke("run", str(built.job), "--period", "2026-11", "--executor", "inline")
    assert result.exit_code == 0, result.output
    return result


def test_hold_and_release_set_and_clear_the_s3_legal_hold(s3_server: S3Server,
                                                          tmp_path: Path) -> None:
    built = project(tmp_path, s3_server, lock=True)
    run(built)
    entry, other = built.entries()
    keys = [f"archive/{entry.storage_key}", f"archive/{entry.record_storage_key}"]
    assert [s3_hold(s3_server, built.bucket, key) for key in keys] == ["OFF", "OFF"]
    result = built.invoke("archive", "hold", entry.document_id, "--reason", "case 7")
    assert result.exit_code == 0 and "on legal hold" in result.output
    assert "index only" not in result.output
    assert [s3_hold(s3_server, built.bucket, key) for key in keys] == ["ON", "ON"]
    assert s3_hold(s3_server, built.bucket, f"archive/{other.storage_key}") == "OFF"
    result = built.invoke("archive", "release", entry.document_id)
    assert result.exit_code == 0 and "not on hold" in result.output
    assert [s3_hold(s3_server, built.bucket, key) for key in keys] == ["OFF", "OFF"]


def test_verify_reports_a_held_document_whose_objects_are_not_held(s3_server: S3Server,
                                                                   tmp_path: Path) -> None:
    built = project(tmp_path, s3_server, lock=True)
    run(built)
    entry = built.entries()[0]
    assert built.invoke("archive", "hold", entry.document_id).exit_code == 0
    assert built.invoke("archive", "verify").exit_code == 0
    # Someone with s3:PutObjectLegalHold clears the hold behind the factory's back.
    s3_server.client().put_object_legal_hold(  # type: ignore[attr-defined]
        Bucket=built.bucket, Key=f"archive/{entry.storage_key}", LegalHold={"Status": "OFF"})
    result = built.invoke("archive", "verify")
    assert result.exit_code == 1, result.output  # README: 1, a check found problems
    assert f"unheld: {entry.storage_key} (document {entry.document_id})" in result.output
    assert "1 on legal hold but not held by the store" in result.output
    report = json.loads(built.invoke("archive", "verify", "--json").output)
    assert report["counts"]["unheld"] == 1 and not report["ok"]
    assert [f["key"] for f in report["findings"]] == [entry.storage_key]
    # Holding it again places the S3 hold again (the index was already holding it).
    result = built.invoke("archive", "hold", entry.document_id)
    assert result.exit_code == 0 and "(unchanged)" in result.output
    assert s3_hold(s3_server, built.bucket, f"archive/{entry.storage_key}") == "ON"
    assert built.invoke("archive", "verify").exit_code == 0


def test_a_run_with_lock_auto_on_a_server_without_object_lock(s3rver: S3Server,
                                                              tmp_path: Path) -> None:
    built = project(tmp_path, s3rver, lock=False)
    result = run(built)
    assert result.output.count("does not implement Object Lock") == 1, result.output
    assert "input 2 = archived 2" in result.output
    entry = built.entries()[0]
    stored = s3rver.client().get_object(  # type: ignore[attr-defined]
        Bucket=built.bucket, Key=f"archive/{entry.storage_key}")["Body"].read()
    assert sha256_of(stored) == entry.sha256
    # A hold lives in the index (purge refuses it), and the command says so.
    result = built.invoke("archive", "hold", entry.document_id)
    assert result.exit_code == 0, result.output
    assert "on legal hold; in the index only" in result.output and "Object Lock" in result.output
    assert built.invoke("archive", "verify").exit_code == 0
    assert built.invoke("archive", "get", entry.document_id, "-o",
                        str(tmp_path / "d.pdf")).exit_code == 0


def test_validate_refuses_lock_on_where_there_is_no_object_lock(s3rver: S3Server,
                                                                s3_server: S3Server,
                                                                tmp_path: Path) -> None:
    built = project(tmp_path, s3rver, lock=False, options="&lock=on")
    result = built.invoke("validate", str(built.job), "--period", "2026-11")
    assert result.exit_code == 2, result.output
    assert "archive: " in result.output and "does not implement Object Lock" in result.output
    assert "lock=on" in result.output
    result = built.invoke("run", str(built.job), "--period", "2026-11", "--executor", "inline")
    assert result.exit_code == 2 and "does not implement Object Lock" in result.output
    assert not list(s3rver.client().list_objects_v2(  # type: ignore[attr-defined]
        Bucket=built.bucket).get("Contents", []))
    auto = built.invoke("validate", str(built.job), "--period", "2026-11",
                        archive_url=built.env["FACTORY_ARCHIVE_URL"].replace("&lock=on", ""))
    assert auto.exit_code == 0, auto.output
    assert "note:" in auto.output and "does not implement Object Lock" in auto.output
    locked = f"s3://{s3_server.bucket(lock=True)}/a?endpoint_url={s3_server.endpoint}&lock=on"
    result = built.invoke("validate", str(built.job), "--period", "2026-11",
                          archive_url=locked)
    assert result.exit_code == 0, result.output
    assert "Object Lock" not in result.output


def test_get_of_a_document_whose_object_is_missing_exits_3(s3_server: S3Server,
                                                           tmp_path: Path) -> None:
    built = project(tmp_path, s3_server, lock=False, options="&lock=off")
    run(built)
    entry = built.entries()[0]
    s3_server.client().delete_object(  # type: ignore[attr-defined]
        Bucket=built.bucket, Key=f"archive/{entry.storage_key}")
    target = tmp_path / "d.pdf"
    result = built.invoke("archive", "get", entry.document_id, "-o", str(target))
    assert result.exit_code == 3, result.output  # README: 3, an object failed verification
    assert f"its object {entry.storage_key} is missing" in result.output
    assert not target.exists()
    result = built.invoke("archive", "get", "00000000-0000-0000-0000-000000000000")
    assert result.exit_code == 2  # an id the index does not know is still bad input
