"""The Source protocol and helpers shared by every source.

A source takes its options from the job's ``[source]`` table and gives, lazily and in constant
memory, one `RawRecord` per input record, or a `Reject` for a record that cannot even be parsed
(malformed CSV quoting, invalid JSON). It never validates types: that is the schema's job.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from factory.models import RawRecord, Reject


class Source(Protocol):
    """What the runner needs from any input."""

    #: A label for messages and positions; never contains a secret.
    name: str

    def records(self) -> Iterator[RawRecord | Reject]:
        """Yield every record in input order, each exactly once."""
        ...

    def columns(self) -> list[str] | None:
        """The record-level column names, when the source knows them before reading records."""
        ...

    def count(self) -> int | None:
        """A cheap count of the records, for progress and ETA; None when unknown."""
        ...
