"""A whole run on fakes (the fast tier): routing, archive, index and delivery of the renewal
notice on every channel, with the stub PDF renderer, an in-memory store and in-memory
transports, through the inline executor. What the slow tests check with real rendering and
real servers, checked here for the logic around them: every record accounted for, the bytes
archived are the bytes sent, and a second run sends nothing again."""

from __future__ import annotations

import email
import json
import tomllib
from email import policy
from pathlib import Path

import pytest
import tomli_w

from factory.archive import open_index
from factory.config import Settings, load_settings
from factory.executors import InlineExecutor
from factory.jobs import JobSpec, load_job
from factory.models import RunReport
from factory.runner import RunOptions, run_job
from tests.conftest import REPO, csv_source
from tests.support.fakes import Fakes, install, stub_metadata

pytestmark = pytest.mark.fast

PERIOD = "2026-12"


@pytest.fixture
def fakes(monkeypatch: pytest.MonkeyPatch) -> Fakes:
    return install(monkeypatch)


@pytest.fixture
def fake_settings(tmp_path: Path, fakes: Fakes) -> Settings:
    return load_settings(REPO, {}, var_dir=str(tmp_path / "var"), workers=1,
                         archive_url="memtest://", index_url=f"sqlite:///{tmp_path / 'i.db'}",
                         email_url="memmail://", sms_url="memsms://")


@pytest.fixture
def renewal_job(tmp_path: Path, sample_dir: Path) -> JobSpec:
    data = tomllib.loads((REPO / "jobs" / "renewal_notice.toml").read_text(encoding="utf-8"))
    data["source"] = csv_source(sample_dir / "customers.csv", None)
    data["print"] = {"enabled": False}  # print files are assembled with real PDFs elsewhere
    path = tmp_path / "jobs" / "renewal_notice.toml"
    path.parent.mkdir(parents=True)
    path.write_text(tomli_w.dumps(data), encoding="utf-8")
    return load_job(path)


def run(job: JobSpec, settings: Settings) -> RunReport:
    return run_job(job, settings, RunOptions(period=PERIOD), InlineExecutor())


def test_a_run_on_fakes_sends_what_it_archived_once_and_a_second_run_sends_nothing(
        renewal_job: JobSpec, fake_settings: Settings, fakes: Fakes) -> None:
    report = run(renewal_job, fake_settings)
    counts = report.counts
    assert report.status == "completed" and report.balanced
    assert (counts.input, counts.archived, counts.failed, counts.rejected) == (12, 12, 0, 0)

    index = open_index(fake_settings.index_url or "", migrate=False)
    pdfs = list(index.documents.entries(job="renewal_notice", period=PERIOD, channel="pdf"))
    assert len(pdfs) == 12
    for entry in pdfs:
        document_id, _html_sha = stub_metadata(fakes.store.get(entry.storage_key))
        assert document_id == entry.document_id

    sent = {**fakes.email.sent, **fakes.sms.sent}
    assert fakes.email.sent and fakes.sms.sent  # the sample data has customers on both
    assert sorted(fakes.email.attempts + fakes.sms.attempts) == sorted(sent)  # each once
    rows = [r for r in index.deliveries.where() if r.channel in ("email", "sms")]
    assert sorted(r.delivery_key for r in rows if r.status == "sent") == sorted(sent)
    for channel, transport in (("email", fakes.email), ("sms", fakes.sms)):
        for key, message in transport.sent.items():
            (row,) = [r for r in rows if r.delivery_key == key]
            (archived,) = list(index.documents.entries(record_key=row.record_key, channel=channel))
            stored = fakes.store.get(archived.storage_key)
            if channel == "email":  # the .eml archived is the message sent, the PDF attached
                assert stored == message.body
                parsed = email.message_from_bytes(message.body, policy=policy.default)
                (attachment,) = list(parsed.iter_attachments())
                (pdf,) = [e for e in pdfs if e.record_key == row.record_key]
                assert attachment.get_content() == fakes.store.get(pdf.storage_key)
            else:  # the SMS is archived as JSON: its text and how it was encoded
                assert json.loads(stored)["text"] == message.body.decode("utf-8")
    index.close()

    attempts, objects = len(fakes.email.attempts + fakes.sms.attempts), dict(fakes.store.objects)
    again = run(renewal_job, fake_settings)
    assert again.balanced and again.counts.skipped == 12 and again.counts.archived == 0
    assert len(fakes.email.attempts + fakes.sms.attempts) == attempts  # nothing sent again
    assert all(fakes.store.objects[key] == data for key, data in objects.items())
