"""A task's records through one worker (`factory.pipeline.chunk`): their PDF slots claimed in one
transaction and completed in one, and still per record in every outcome: one bad record fails
alone, and a task whose slots a newer run took over before its completion writes nothing and
hands its records over. On fakes (stub PDF layout, memory store, SQLite index)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from factory.archive.claims import ClaimRepository
from factory.archive.slots import SlotBatch, index_slot
from factory.config import Settings, load_settings
from factory.errors import RenderError
from factory.executors import InlineExecutor
from factory.jobs import JobSpec
from factory.render.pdf import PdfRenderer
from factory.runner import RunOptions, run_job
from tests.conftest import REPO
from tests.support.fakes import Fakes, install, stub_render

pytestmark = pytest.mark.fast


@pytest.fixture
def fakes(monkeypatch: pytest.MonkeyPatch) -> Fakes:
    return install(monkeypatch)


@pytest.fixture
def fake_settings(tmp_path: Path, fakes: Fakes) -> Settings:
    return load_settings(REPO, {}, var_dir=str(tmp_path / "var"), workers=1,
                         archive_url="memtest://", index_url=f"sqlite:///{tmp_path / 'i.db'}")


def count_calls(monkeypatch: pytest.MonkeyPatch, names: list[str]) -> dict[str, int]:
    calls = dict.fromkeys(names, 0)
    for name in names:
        original = getattr(ClaimRepository, name)

        def counted(self, *args, _name=name, _original=original, **kwargs):
            calls[_name] += 1
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(ClaimRepository, name, counted)
    return calls


def test_a_task_claims_and_completes_its_records_together(
        sample_job: JobSpec, fake_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = count_calls(monkeypatch, ["claim", "complete", "claim_many", "complete_many"])
    report = run_job(sample_job, fake_settings, RunOptions(period="2026-11", chunk_size=4),
                     InlineExecutor())
    assert report.counts.archived == 12 and report.counts.failed == 0
    assert calls == {"claim": 0, "complete": 0, "claim_many": 3, "complete_many": 3}
    again = run_job(sample_job, fake_settings, RunOptions(period="2026-11", chunk_size=4),
                    InlineExecutor())
    assert again.counts.skipped == 12  # found archived by the batch's read, nothing claimed
    assert calls["claim"] == 0 and calls["complete"] == 0


def test_one_record_that_fails_to_render_fails_alone_in_its_task(
        sample_job: JobSpec, fake_settings: Settings, fakes: Fakes,
        monkeypatch: pytest.MonkeyPatch) -> None:
    def render(self, html: str, document_id: str):
        if "C000002" in html:  # the record's customer number is on its statement
            raise RenderError("this one cannot be laid out")
        return stub_render(self, html, document_id)

    monkeypatch.setattr(PdfRenderer, "render", render)
    report = run_job(sample_job, fake_settings, RunOptions(period="2026-11", chunk_size=4),
                     InlineExecutor())
    assert report.counts.archived == 11 and report.counts.failed == 1
    from factory.archive import open_index

    index = open_index(fake_settings.index_url)
    keys = {e.record_key for e in index.documents.entries(job=sample_job.name)}
    assert len(keys) == 11 and "C000002" not in keys
    assert index.claims.held() == 0
    assert not [name for name in fakes.store.keys("") if "C000002" in name]  # removed


def test_a_task_whose_slots_a_newer_run_took_over_writes_nothing_and_hands_them_over(
        sample_job: JobSpec, fake_settings: Settings, fakes: Fakes,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from factory.archive import open_index

    index = open_index(fake_settings.index_url)
    flush = SlotBatch.flush
    taken: list[str] = []

    def newer_run_first(self: SlotBatch):
        """Before the first task's completion: a newer run starts (this one's coordinator
        looks dead) and takes every claim of the task over."""
        if not taken:
            index.runs.start_run("r-new", sample_job.name, "2026-11", executor="inline",
                                 workers=1, template_version="v", dry_run=False,
                                 stale_after=timedelta(seconds=-1))
            for deferred in list(self._deferred.values()):
                index.claims.claim(index_slot(deferred.key), "r-new", holder="task-new")
                taken.append(deferred.key.record_key)
        return flush(self)

    monkeypatch.setattr(SlotBatch, "flush", newer_run_first)
    report = run_job(sample_job, fake_settings, RunOptions(period="2026-11", chunk_size=4),
                     InlineExecutor())
    assert len(taken) == 4
    assert report.counts.failed == 0 and report.counts.archived == 0
    assert list(index.documents.entries(job=sample_job.name)) == []
    assert index.claims.held(report.run_id) == 0
    assert index.claims.held("r-new") == 4  # the newer run's claims, untouched
    assert not [name for name in fakes.store.keys("") if name.endswith(".pdf")]


def test_a_full_disk_mid_task_stops_the_run_with_the_documents_done_before_it_indexed(
        sample_job: JobSpec, fake_settings: Settings, fakes: Fakes,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from factory.archive import open_index
    from factory.archive.store import MemoryStore
    from factory.errors import NoSpaceError

    put = MemoryStore.put

    def full_at_the_third(self, key, data, **kwargs):
        if "C000003" in key:
            raise NoSpaceError("no space left on device")
        return put(self, key, data, **kwargs)

    monkeypatch.setattr(MemoryStore, "put", full_at_the_third)
    report = run_job(sample_job, fake_settings, RunOptions(period="2026-11", chunk_size=4),
                     InlineExecutor())
    assert report.status != "completed"
    index = open_index(fake_settings.index_url)
    keys = {e.record_key for e in index.documents.entries(job=sample_job.name)}
    assert keys == {"C000001", "C000002"}  # done before the disk filled: indexed, not lost
    assert index.claims.held() == 0
