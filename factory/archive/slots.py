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

A task of many records opens ``slots.batch(keys, run_id, holder)`` (`SlotBatch`) instead: one
transaction claims the free slots of all its records, and one completes them all after the
last (``slot.complete_later``), each claim still checked; whatever the batch cannot do goes the
per-record way above.

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

    def __init__(self, slots: Slots, key: SlotKey, claim: Claim,
                 batch: SlotBatch | None = None) -> None:
        self._slots = slots
        self._batch = batch
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

    def complete_later(self, entry: ArchiveEntry,
                       supersede: Supersession | None = None) -> None:
        """`complete`, in the chunk's completion transaction when the slot came from a
        `SlotBatch` (`SlotBatch.flush`); at once otherwise."""
        if self._batch is None:
            self.complete(entry, supersede=supersede)
            return
        self.closed = True
        self._batch.defer(Deferred(self, entry, supersede))

    def abandon(self) -> None:
        """Remove what this attempt stored (except what the index points to) and give the
        slot back: the attempt can no longer complete."""
        with contextlib.suppress(FactoryError):
            self._slots.drop(self.key, self.stored)
        with contextlib.suppress(FactoryError):
            self._slots.index.claims.release(self.claim)
        self.closed = True

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
        with self.opened(key, claim) as opened:
            yield opened

    @contextlib.contextmanager
    def opened(self, key: SlotKey, claim: Claim, batch: SlotBatch | None = None
               ) -> Iterator[OpenSlot]:
        """The block of a slot claimed already (by `slot`, or by a `SlotBatch`)."""
        opened = OpenSlot(self, key, claim, batch)
        if claim.taken_from:
            self.drop_attempt(key, claim.taken_from)
        try:
            yield opened
        except ClaimBusy:
            raise
        except BaseException:
            with contextlib.suppress(FactoryError):
                self.drop(key, opened.stored)
            if not opened.closed:
                opened.closed = True
                with contextlib.suppress(FactoryError):
                    self.index.claims.release(claim)
            raise
        opened.release()

    def batch(self, keys: list[SlotKey], run_id: str, holder: str | None = None,
              skip_archived: bool = False) -> SlotBatch:
        """The slots of ``keys`` (one task's records) claimed in one transaction: see
        `SlotBatch`."""
        return SlotBatch(self, keys, run_id, holder, skip_archived)

    def _referenced(self, key: SlotKey) -> set[str]:
        """The objects of ``key``'s slot the index points to (documents, the delivery row)."""
        kept = {name for entry in self.revisions(key)
                for name in (entry.storage_key, entry.record_storage_key) if name}
        delivery = self.index.deliveries.get(key.delivery_key())
        if delivery is not None and delivery.storage_key:
            kept |= {delivery.storage_key,
                     record_snapshot_key(delivery.storage_key)}
        return kept

    def drop(self, key: SlotKey, names: list[str]) -> int:
        """Remove the objects ``names`` of ``key``'s slot that the index does not point to."""
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
        return self.drop(key, names)


class Deferred:
    """A slot's completion waiting for its chunk's completion transaction."""

    def __init__(self, slot: OpenSlot, entry: ArchiveEntry,
                 supersede: Supersession | None) -> None:
        self.slot, self.entry, self.supersede = slot, entry, supersede

    @property
    def key(self) -> SlotKey:
        return self.slot.key

    def complete(self) -> None:
        """Complete this slot alone (`SqlIndex.complete`: `FencedError` when a newer run took
        it over); on a failure the caller retries or `abandon`s it."""
        self.slot._slots.index.claims.complete(self.slot.claim, self.entry,
                                               supersede=self.supersede)

    def abandon(self) -> None:
        self.slot.abandon()


class SlotBatch:
    """One task's slots, claimed in one transaction and completed in one.

    ``find`` and ``slot`` are those of `Slots`: a slot the batch claimed opens without a
    transaction, and one it found archived (``skip_archived``) is found without one; any other
    (held by a claim, claimed by another worker just now, or not in the batch) goes the
    per-record way, `Slots.slot`, whose rules decide it. `OpenSlot.complete_later` defers a
    completion to `flush`, which completes every deferred slot in one transaction
    (`ClaimRepository.complete_many`: each claim checked, so fencing holds per record) and
    gives back those it could not complete, for the caller to complete one by one (with its
    retries; `Deferred.abandon` when that fails), and releases the claims no record used.
    A batch whose claim fails (the run fenced, the index unreachable) is empty: every record
    then goes the per-record way, which says why.
    """

    def __init__(self, slots: Slots, keys: list[SlotKey], run_id: str, holder: str | None,
                 skip_archived: bool) -> None:
        self._slots = slots
        self.run_id = run_id
        self._claimed: dict[SlotKey, Claim] = {}
        self._found: dict[SlotKey, ArchiveEntry] = {}
        self._deferred: dict[SlotKey, Deferred] = {}
        by_slot = {index_slot(key): key for key in keys}
        with contextlib.suppress(FactoryError):
            taken = slots.index.claims.claim_many(list(by_slot), run_id, holder,
                                                  skip_archived)
            for slot, got in taken.items():
                if isinstance(got, Claim):
                    self._claimed[by_slot[slot]] = got
                else:
                    self._found[by_slot[slot]] = got

    def find(self, key: SlotKey) -> ArchiveEntry | None:
        if key in self._found:
            return self._found[key]
        claim = self._claimed.get(key)
        return claim.existing if claim is not None else self._slots.find(key)

    @contextlib.contextmanager
    def slot(self, key: SlotKey, run_id: str, holder: str | None = None
             ) -> Iterator[OpenSlot]:
        claim = self._claimed.pop(key, None) if run_id == self.run_id else None
        if claim is None:
            with self._slots.slot(key, run_id, holder) as opened:
                yield opened
            return
        with self._slots.opened(key, claim, self) as opened:
            yield opened

    def defer(self, deferred: Deferred) -> None:
        self._deferred[deferred.key] = deferred

    def deferred(self, key: SlotKey) -> bool:
        """Whether ``key``'s completion waits for `flush`."""
        return key in self._deferred

    def flush(self) -> list[Deferred]:
        """Complete the deferred slots in one transaction and release the claims not used;
        return the deferred slots left to complete one by one."""
        deferred, self._deferred = list(self._deferred.values()), {}
        done = self._slots.index.claims.complete_many(
            [(item.slot.claim, item.entry, item.supersede) for item in deferred])
        unused, self._claimed = list(self._claimed.values()), {}
        if unused:
            with contextlib.suppress(FactoryError):
                self._slots.index.claims.release_many(unused)
        return [item for item in deferred if item.slot.claim.token not in done]


__all__ = ["Deferred", "OpenSlot", "SlotBatch", "Slots", "index_slot"]
