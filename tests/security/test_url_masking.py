"""One masking function for every URL that is logged or stored (issue 14): userinfo and
secret-looking query parameters, in failures.jsonl, the deliveries table and the report."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from factory.config import Settings
from factory.deliver import safe_transport_url
from factory.sources import safe_url
from factory.urls import mask_url, mask_urls_in
from tests.pipeline.test_channels_run import customers, lines, renewal_job, run


@pytest.mark.fast
@pytest.mark.parametrize(("url", "shown"), [
    ("http://gateway/v1/sms?api_key=s3cr3t&to=1", "http://gateway/v1/sms?api_key=***&to=1"),
    ("https://gw.example/v1?token=s3cr3t", "https://gw.example/v1?token=***"),
    ("https://gw.example/v1?Signature=s3cr3t&X-Amz-Credential=s3cr3t&region=eu",
     "https://gw.example/v1?Signature=***&X-Amz-Credential=***&region=eu"),
    ("https://s3cr3t@gw.example/v1", "https://***@gw.example/v1"),
    ("https://:s3cr3t@gw.example/v1", "https://***@gw.example/v1"),
    ("smtp://mailer:s3cr3t@mx.example:587?starttls=require",
     "smtp://mailer:***@mx.example:587?starttls=require"),
    ("redis://:s3cr3t@127.0.0.1:6379/0", "redis://***@127.0.0.1:6379/0"),
    ("postgresql+psycopg://app:s3cr3t@db/x?sslpassword=s3cr3t",
     "postgresql+psycopg://app:***@db/x?sslpassword=***"),
    ("sqlite:////var/index.db", "sqlite:////var/index.db"),
    ("outbox:///var/outbox", "outbox:///var/outbox"),
    ("http://host:notaport/?key=s3cr3t", "***"),
])
def test_mask_url(url: str, shown: str) -> None:
    assert mask_url(url) == shown
    assert "s3cr3t" not in mask_url(url)


@pytest.mark.fast
def test_every_url_shown_goes_through_the_same_masking() -> None:
    url = "https://user:pw@gw.example/v1?api_key=s3cr3t"
    assert safe_transport_url(url) == safe_url(url) == mask_url(url)
    assert mask_urls_in(f"SMS gateway {url}: refused ('{url}').") == \
        f"SMS gateway {mask_url(url)}: refused ('{mask_url(url)}')."


def test_a_token_in_the_gateway_query_is_masked_in_failures_deliveries_and_report(
        tmp_path: Path, sample_dir: Path, settings: Settings, sms_gateway) -> None:
    cases = [("C000401", "cs", {"preferred_channel": "sms"}),
             ("C000402", "cs", {"preferred_channel": "sms"})]
    job = renewal_job(tmp_path / "jobs", customers(tmp_path / "data", sample_dir, cases),
                      sms__transliterate=True,
                      routing__fallback=["sms"])  # the refusal fails (no send-time fallback)
    sms_gateway.script = [(200, None), (400, {"error": "blocked"})]
    url = f"http://127.0.0.1:{sms_gateway.port}/v1/sms?api_key=Q5ecr3tT0ken&from=bank"
    report = run(job, settings.with_overrides(sms_url=url))
    assert report.as_dict()["channels"]["sms"]["sent"] == 1
    assert sms_gateway.requests[0]["path"].endswith("api_key=Q5ecr3tT0ken&from=bank")
    (failure,) = lines(report.failures_file)
    assert "HTTP 400" in failure["reason"] and "api_key=***&from=bank" in failure["reason"]
    written = [Path(report.failures_file).read_text(encoding="utf-8"),
               (settings.runs_dir / report.run_id / "report.json").read_text(encoding="utf-8")]
    db = sqlite3.connect(settings.var_dir / "index.db")
    rows = db.execute("SELECT * FROM deliveries").fetchall()
    db.close()
    assert rows and any("api_key=***" in str(row) for row in rows)
    written.append(repr(rows))
    for text in written:
        assert "Q5ecr3tT0ken" not in text
