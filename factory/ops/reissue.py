"""Reissue one customer's document: a run of a job restricted to one record key.

Takes an open `Source` and the job's key field; gives `OneRecord`, the same source yielding
only the records (and rejects) whose key is the one asked for. ``docfactory run JOB --period P
--record KEY`` runs it: with the record archived already it is skipped (nothing is lost or
duplicated); with ``--force --reason TEXT`` it is rendered again as a new revision beside the
old one, like any forced run. Everything else of the run (claims, fencing, report, index row,
audit) is the ordinary run's.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from factory.models import Reject
from factory.sources import Source


class OneRecord:
    def __init__(self, source: Source, key_field: str, key: str) -> None:
        self.source = source
        self.key_field = key_field
        self.key = key.strip()
        self.name = source.name

    def records(self) -> Iterator[Any]:
        for raw in self.source.records():
            if isinstance(raw, Reject):
                if raw.key == self.key:
                    yield raw
                continue
            value = raw.data.get(self.key_field)
            if isinstance(value, str | int) and str(value).strip() == self.key:
                yield raw

    def columns(self) -> list[str] | None:
        return self.source.columns()

    def count(self) -> int | None:
        return None  # unknown without reading the whole input twice

    def __getattr__(self, name: str) -> Any:  # unread, orphan_items, ... of the real source
        return getattr(self.source, name)
