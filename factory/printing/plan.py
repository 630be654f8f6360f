"""Householding, envelopes, sheets and batches: the print plan, before any PDF is touched.

Takes print items and the ``[print]`` options; gives `Batch` values. The steps:

1. householding: items with the same normalised postal address share an envelope, one document
   after the other (ordered by record key); a household over ``envelope_max_sheets`` is split
   over several envelopes (a single document that is larger gets an envelope of its own);
2. sorting: envelopes by country, postal code, then address, so the stream arrives at the post
   office presorted;
3. sheets: in duplex every document starts on a front side, so a document with an odd page
   count gets a blank back page; sheets = pages / 2 (duplex) or pages (simplex);
4. batches: envelopes in order, at most ``max_sheets`` sheets per print file (an envelope is
   never split; one larger than ``max_sheets`` makes a batch of its own). Envelope sequence
   numbers restart at 1 in every batch; the batch id tells batches apart.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from factory.printing.items import PrintItem


@dataclass(frozen=True, slots=True)
class PlannedDocument:
    item: PrintItem
    blank_after: bool

    @property
    def pages(self) -> int:
        """Pages in the print file: the document's own, plus its blank back page if any."""
        return self.item.page_count + int(self.blank_after)


@dataclass(frozen=True, slots=True)
class Envelope:
    sequence: int
    documents: tuple[PlannedDocument, ...]
    sheets: int

    @property
    def pages(self) -> int:
        return sum(d.pages for d in self.documents)

    @property
    def address(self):  # type: ignore[no-untyped-def]
        return self.documents[0].item.address


@dataclass(frozen=True, slots=True)
class Batch:
    number: int
    batch_id: str
    envelopes: tuple[Envelope, ...]

    @property
    def sheets(self) -> int:
        return sum(e.sheets for e in self.envelopes)

    @property
    def pages(self) -> int:
        return sum(e.pages for e in self.envelopes)

    @property
    def blanks(self) -> int:
        return sum(d.blank_after for e in self.envelopes for d in e.documents)

    @property
    def documents(self) -> int:
        return sum(len(e.documents) for e in self.envelopes)


def sheets_of(pages: int, duplex: bool) -> int:
    return (pages + 1) // 2 if duplex else pages


def batch_tag(job: str, period: str) -> str:
    """Six characters naming a job's period in barcodes: the same on every rebuild."""
    return hashlib.sha256(f"{job}|{period}".encode()).hexdigest()[:6].upper()


def households(items: Iterable[PrintItem]) -> list[list[PrintItem]]:
    """Items grouped by household, in delivery order (country, postal code, address)."""
    groups: dict[str, list[PrintItem]] = {}
    for item in items:
        groups.setdefault(item.address.household_key, []).append(item)
    ordered = sorted(groups.values(), key=lambda group: (
        group[0].address.country.upper(), group[0].address.compact_postal_code,
        group[0].address.household_key, min(i.record_key for i in group)))
    return [sorted(group, key=lambda i: i.record_key) for group in ordered]


def _envelopes(group: list[PrintItem], duplex: bool, capacity: int
               ) -> list[tuple[list[PlannedDocument], int]]:
    result: list[tuple[list[PlannedDocument], int]] = []
    current: list[PlannedDocument] = []
    sheets = 0
    for item in group:
        if item.page_count < 1:
            raise ValueError(f"document {item.document_id} has no pages")
        doc = PlannedDocument(item, blank_after=duplex and item.page_count % 2 == 1)
        need = sheets_of(item.page_count, duplex)
        if current and sheets + need > capacity:
            result.append((current, sheets))
            current, sheets = [], 0
        current.append(doc)
        sheets += need
    if current:
        result.append((current, sheets))
    return result


def plan_batches(items: Iterable[PrintItem], *, job: str, period: str, duplex: bool = True,
                 max_sheets: int = 500, envelope_max_sheets: int = 10) -> list[Batch]:
    """The print plan for ``items``: batches of envelopes of documents."""
    tag = batch_tag(job, period)
    planned = [env for group in households(items)
               for env in _envelopes(group, duplex, envelope_max_sheets)]
    batches: list[Batch] = []
    current: list[Envelope] = []
    sheets = 0

    def close() -> None:
        number = len(batches) + 1
        batches.append(Batch(number, f"{tag}-{number:03d}", tuple(current)))

    for documents, env_sheets in planned:
        if current and sheets + env_sheets > max_sheets:
            close()
            current, sheets = [], 0
        current.append(Envelope(len(current) + 1, tuple(documents), env_sheets))
        sheets += env_sheets
    if current:
        close()
    return batches
