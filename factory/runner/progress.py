"""How a run reports progress: a small protocol the CLI implements (rich bar or log lines).

Takes nothing; gives `Progress` and `NoProgress`. The runner calls ``start`` once with the
expected total (None when unknown), ``update`` after every finished chunk with the running
counts, and ``finish`` once.
"""

from __future__ import annotations

from typing import Protocol

from factory.models import Counts


class Progress(Protocol):
    def start(self, total: int | None, description: str) -> None: ...

    def update(self, counts: Counts) -> None: ...

    def finish(self, counts: Counts) -> None: ...


class NoProgress:
    """Progress that shows nothing (tests, library use)."""

    def start(self, total: int | None, description: str) -> None:
        pass

    def update(self, counts: Counts) -> None:
        pass

    def finish(self, counts: Counts) -> None:
        pass
