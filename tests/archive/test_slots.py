"""The slot API (`factory.archive.slots`) and the channel registry: claim, store, complete,
and what happens when an attempt fails or is fenced. On SQLite and PostgreSQL (`index_url`),
with a real file store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from factory.archive import FileStore, Slot, delivery_key, document_id, open_index
from factory.archive.keys import SlotKey
from factory.archive.slots import Slots, index_slot
from factory.errors import ConfigError, FencedError, RenderError
from factory.models import ArchiveEntry, Artifact
from factory.pipeline.channels import channel_class, channel_names, register_channel

KEY = SlotKey(job="job", period="2026-11", record_key="C1", document_type="statement",
              channel="pdf")


def entry(slot, doc_id: str, storage_key: str, snapshot_key: str, run_id: str
          ) -> ArchiveEntry:
    now = datetime.now(UTC)
    return ArchiveEntry(
        document_id=doc_id, job=KEY.job, run_id=run_id, period=KEY.period,
        record_key=KEY.record_key, customer_id="C1", document_type=KEY.document_type,
        channel=KEY.channel, locale="en", template_version="a" * 64, page_count=1,
        byte_size=3, sha256=Artifact.of("pdf", "application/pdf", "pdf", b"pdf").sha256,
        storage_key=storage_key, media_type="application/pdf", created_at=now,
        retention_until=now + timedelta(days=1), revision=slot.revision,
        record_storage_key=snapshot_key)


def write(slot, run_id: str) -> ArchiveEntry:
    doc_id = slot.document_id()
    storage_key, snapshot_key = slot.keys(doc_id, "pdf")
    row = entry(slot, doc_id, storage_key, snapshot_key, run_id)
    slot.store(row, Artifact.of("pdf", "application/pdf", "pdf", b"pdf"),
               Artifact.of("record", "application/json", "json", b"{}"))
    return row


def start(index, run_id: str, stale_after: timedelta = timedelta(minutes=5)) -> None:
    index.runs.start_run(run_id, KEY.job, KEY.period, executor="inline", workers=1,
                         template_version="a" * 64, dry_run=False, owner="",
                         stale_after=stale_after)


@pytest.fixture
def slots(index_url: str, tmp_path: Path):
    index = open_index(index_url)
    yield Slots(index, FileStore(tmp_path / "store"))
    index.close()


def test_the_key_names_its_fields_and_gives_the_same_ids_as_the_positional_functions(
) -> None:
    assert KEY.document_id(2) == document_id("job", "2026-11", "C1", "statement", "pdf", 2)
    assert KEY.delivery_key() == delivery_key("job", "2026-11", "C1", "statement", "pdf")
    assert index_slot(KEY) == Slot("job", "2026-11", "C1", "pdf", "statement")
    with pytest.raises(TypeError):
        SlotKey("job", "2026-11", "C1", "statement", "pdf")  # type: ignore[misc]


def test_complete_archives_one_revision_and_frees_the_claim(slots: Slots) -> None:
    with slots.slot(KEY, "r1") as slot:
        assert slot.existing is None and slot.revision == 1
        row = write(slot, "r1")
        slot.complete(row)
    assert slots.find(KEY) == row
    assert slots.store.exists(row.storage_key) and slots.store.exists(row.record_storage_key)
    assert slots.index.claims.held() == 0
    with slots.slot(KEY, "r1") as slot:  # the next claim sees it and would write revision 2
        assert slot.existing == row and slot.revision == 2
    assert slots.index.claims.held() == 0  # left without completing: released


def test_a_failure_inside_the_slot_drops_the_attempts_objects_and_releases_the_claim(
        slots: Slots) -> None:
    with pytest.raises(RenderError), slots.slot(KEY, "r1") as slot:
        row = write(slot, "r1")
        raise RenderError("boom after storing")
    assert not slots.store.exists(row.storage_key)
    assert not slots.store.exists(row.record_storage_key)
    assert slots.index.claims.held() == 0 and slots.find(KEY) is None
    with slots.slot(KEY, "r1") as slot:  # a clean start: nothing left to take over
        assert slot.claim.taken_from is None
        slot.complete(write(slot, "r1"))


def test_a_taken_over_attempts_objects_are_removed_but_indexed_ones_stay(
        slots: Slots) -> None:
    with slots.slot(KEY, "r1") as slot:
        kept = write(slot, "r1")
        slot.complete(kept)
    dead = slots.index.claims.claim(index_slot(KEY), "r1", holder="task-1")  # a worker that died...
    orphan = f"{KEY.prefix()}{KEY.document_id(2)}.{dead.attempt}.pdf"
    half = Artifact.of("pdf", "application/pdf", "pdf", b"half")
    slots.store.put(orphan, half.data, media_type=half.media_type, sha256=half.sha256)
    with slots.slot(KEY, "r1", holder="task-1") as slot:  # ...and its task redelivered
        assert slot.claim.taken_from == dead.attempt
        assert not slots.store.exists(orphan)
        assert slots.store.exists(kept.storage_key)


def test_a_fenced_run_cannot_complete_and_leaves_nothing(slots: Slots) -> None:
    index = slots.index
    start(index, "r1")
    with pytest.raises(FencedError), slots.slot(KEY, "r1") as slot:
        row = write(slot, "r1")
        start(index, "r2", stale_after=timedelta(seconds=-1))  # r1 declared abandoned
        newer = index.claims.claim(index_slot(KEY), "r2")
        slot.complete(row)
    assert slots.find(KEY) is None
    assert not slots.store.exists(row.storage_key)
    assert index.claims.held() == 1  # r2's claim is untouched by r1's failure
    index.claims.release(newer)


def test_the_registry_knows_the_builtin_channels_and_takes_new_ones() -> None:
    assert {"pdf", "print", "email", "sms", "peppol", "webhook"} <= set(channel_names())
    assert channel_class("webhook").__name__ == "WebhookChannel"
    assert channel_class("webhook").needs == ("pdf",)
    with pytest.raises(ConfigError, match="unknown channel 'fax'"):
        channel_class("fax")

    class Fax:
        name = "fax"
        needs = ("pdf",)

    register_channel("fax", Fax)  # type: ignore[arg-type]
    try:
        assert channel_class("fax") is Fax
    finally:
        from factory.pipeline.channels import base

        base._REGISTRY.pop("fax")
