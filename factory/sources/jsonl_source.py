"""JSON Lines files: one JSON object per line, line items nested as a list in the object.

Takes a path; gives a `RawRecord` per non-blank line, or a `Reject` naming the line when it is
not a JSON object, or JSON Python cannot hold: nested deeper than the interpreter's recursion
limit (`RecursionError`) or an integer longer than ``sys.get_int_max_str_digits()`` (`ValueError`).
Such a line is rejected with its number and the reason; the batch goes on. Undecodable bytes are
kept as surrogate escapes for the schema to reject.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

from factory.errors import SourceError
from factory.models import Position, RawRecord, Reject


class JsonlSource:
    """Records from a JSON Lines file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.name = path.name

    def _lines(self) -> Iterator[tuple[int, str]]:
        if not self.path.is_file():
            raise SourceError(f"{self.path}: file not found")
        empty = True
        with self.path.open("r", encoding="utf-8-sig", errors="surrogateescape") as handle:
            for number, line in enumerate(handle, start=1):
                if line.strip():
                    empty = False
                    yield number, line
        if empty:
            raise SourceError(f"{self.path}: the file is empty; expected one JSON object a line")

    def columns(self) -> None:
        return None

    def count(self) -> int:
        return sum(1 for _ in self._lines())

    def records(self) -> Iterator[RawRecord | Reject]:
        for index, (number, line) in enumerate(self._lines(), start=1):
            position = Position(self.name, index, number)
            try:
                data = json.loads(line)
            except json.JSONDecodeError as exc:
                yield Reject(position, f"not valid JSON: {exc.msg} at column {exc.colno}")
                continue
            except RecursionError:
                yield Reject(position, "not readable JSON: nested too deeply (more levels than"
                                       f" {sys.getrecursionlimit()} can hold)")
                continue
            except ValueError as exc:  # an integer longer than int_max_str_digits
                yield Reject(position, f"not readable JSON: {exc}")
                continue
            if not isinstance(data, dict):
                yield Reject(position, f"expected a JSON object, got {type(data).__name__}")
                continue
            yield RawRecord(position, data)
