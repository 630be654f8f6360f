"""The claim protocol, written once: claim a slot, store an attempt's objects, complete or drop.

Takes the index and the store; gives `Slots`, whose ``slot(key, run_id, holder)`` is the only
way the pipeline and the print step write a document::

    with slots.slot(key, run_id, holder) as slot:   # claim (ClaimBusy / FencedError raise)
        if slot.existing is not None: ...           # the slot's current row, if any
        doc_id = slot.document_id()                 # the next revision's id
        storage_key, snapshot_key = slot.keys(doc_id, "pdf")
        slot.store(entry, artifact, snapshot)       # objects under names unique to the attempt
        slot.complete(entry)                        # row in, claim out, claim checked (fenced)

Leaving the block without completing releases the claim (a skip, a refusal). Leaving it with
an exception also removes the objects this attempt stored, except those the index or the
slot's delivery row points to (an email recorded "sending" keeps its archived message: the
in-doubt policy of `factory.pipeline.delivery` reads it back); what cannot be removed (an S3
object under retention) stays, unindexed, and ``archive verify`` lists it. A claim taken over
from a dead or stale attempt has that attempt's unreferenced objects removed the same way: they
can never become a document now. `ClaimBusy` leaves everything as it is (the claim is not ours).

Built on `SqlIndex`'s public methods (claim, complete, complete_numbered, release, revisions,
delivery) and the `Store`; keys are `SlotKey`s (named fields), turned into the index's `Slot`
here.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar

from factory.archive.index import Claim, ClaimBusy, Slot, SqlIndex, Supersession
from factory.archive.keys import SlotKey, record_snapshot_key
from factory.archive.store import Store
from factory.errors import FactoryError
from factory.models import ArchiveEntry, Artifact

T = TypeVar("T")


def index_slot(key: SlotKey) -> Slot:
    """The index's `Slot` of ``key``."""
    return Slot(job=key.job, period=key.period, record_key=key.record_key,
                channel=key.channel, document_type=key.document_type)


class OpenSlot:
    """One claimed slot inside ``Slots.slot``: what is there, and the attempt's writes."""

    def __init__(self, slots: Slots, key: SlotKey, claim: Claim) -> None:
        self._slots = slots
        self.key = key
        self.claim = claim
        self.stored: list[str] = []
        self.closed = False

    @property
    def existing(self) -> ArchiveEntry | None:
        """The slot's current document row when the claim was taken, if any."""
        return self.claim.existing

    @property
    def existing_held(self) -> bool:
        return self.claim.existing_held

    @property
    def attempt(self) -> str:
        return self.claim.attempt

    @property
    def revision(self) -> int:
        """The revision a document completed in this slot now gets."""
        return self.existing.revision + 1 if self.existing is not None else 1

    def document_id(self, revision: int | None = None) -> str:
        return self.key.document_id(self.revision if revision is None else revision)

    def keys(self, doc_id: str, extension: str) -> tuple[str, str]:
        """(storage key, record snapshot key) of ``doc_id`` written by this attempt."""
        storage_key = self.key.storage_key(doc_id, extension, self.attempt)
        return storage_key, record_snapshot_key(storage_key)

    def store(self, entry: ArchiveEntry, artifact: Artifact,
              snapshot: Artifact | None = None) -> None:
        """Put ``snapshot`` (at ``entry.record_storage_key``) and then ``artifact`` (at
        ``entry.storage_key``), with the entry's retention."""
        store = self._slots.store
        if snapshot is not None and entry.record_storage_key:
            self.stored.append(entry.record_storage_key)
            store.put(entry.record_storage_key, snapshot.data, media_type=snapshot.media_type,
                      sha256=snapshot.sha256, retain_until=entry.retention_until)
        self.stored.append(entry.storage_key)
        store.put(entry.storage_key, artifact.data, media_type=artifact.media_type,
                  sha256=artifact.sha256, retain_until=entry.retention_until)

    def complete(self, entry: ArchiveEntry, delivery: Mapping[str, Any] | None = None,
                 supersede: Supersession | None = None) -> ArchiveEntry | None:
        """Row in, claim out, in one transaction (`SqlIndex.complete`); `FencedError` when a
        newer run took the slot over. Returns the revision superseded, if any."""
        old = self._slots.index.claims.complete(self.claim, entry, delivery, supersede=supersede)
        self.closed = True
        return old

    def complete_numbered(self, series: str, build: Callable[[int], tuple[ArchiveEntry, T]]
                          ) -> tuple[ArchiveEntry, T]:
        """Assign the next number of ``series`` and complete with what ``build(number)``
        renders and stores, in one transaction (`SqlIndex.complete_numbered`)."""
        _old, built = self._slots.index.claims.complete_numbered(self.claim, series, build)
        self.closed = True
        return built

    def release(self) -> None:
        """Give the slot back without writing (nothing to do, or refused)."""
        if not self.closed:
            self.closed = True
            self._slots.index.claims.release(self.claim)


class Slots:
    """The slot API over one index and one store."""

    def __init__(self, index: SqlIndex, store: Store) -> None:
        self.index = index
        self.store = store

    def find(self, key: SlotKey) -> ArchiveEntry | None:
        return self.index.documents.find(index_slot(key))

    def revisions(self, key: SlotKey) -> list[ArchiveEntry]:
        return self.index.documents.revisions(index_slot(key))

    @contextlib.contextmanager
    def slot(self, key: SlotKey, run_id: str, holder: str | None = None
             ) -> Iterator[OpenSlot]:
        """Claim ``key`` for ``run_id`` (see the module docstring)."""
        claim = self.index.claims.claim(index_slot(key), run_id, holder=holder)
        opened = OpenSlot(self, key, claim)
        if claim.taken_from:
            self.drop_attempt(key, claim.taken_from)
        try:
            yield opened
        except ClaimBusy:
            raise
        except BaseException:
            with contextlib.suppress(FactoryError):
                self._drop(key, opened.stored)
            if not opened.closed:
                opened.closed = True
                with contextlib.suppress(FactoryError):
                    self.index.claims.release(claim)
            raise
        opened.release()

    def _referenced(self, key: SlotKey) -> set[str]:
        """The objects of ``key``'s slot the index points to (documents, the delivery row)."""
        kept = {name for entry in self.revisions(key)
                for name in (entry.storage_key, entry.record_storage_key) if name}
        delivery = self.index.deliveries.get(key.delivery_key())
        if delivery is not None and delivery.storage_key:
            kept |= {delivery.storage_key,
                     record_snapshot_key(delivery.storage_key)}
        return kept

    def _drop(self, key: SlotKey, names: list[str]) -> int:
        if not names:
            return 0
        kept = self._referenced(key)
        dropped = 0
        for name in names:
            if name not in kept:
                with contextlib.suppress(FactoryError):
                    self.store.delete(name)
                    dropped += 1
        return dropped

    def drop_attempt(self, key: SlotKey, attempt: str) -> int:
        """Remove the objects ``attempt`` (one that can no longer complete) wrote for the
        record of ``key``, except those the index points to; return how many."""
        names = [name for name in self.store.keys(key.prefix()) if f".{attempt}." in name]
        return self._drop(key, names)


__all__ = ["OpenSlot", "Slots", "index_slot"]
