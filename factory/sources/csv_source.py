"""CSV files: a header row, UTF-8 with or without BOM, any single-character delimiter.

Takes a path (and optionally a second CSV of line items joined by a key column); gives
`RawRecord` values streamed row by row, or a `Reject` for a row that cannot be parsed (bad
quoting, wrong number of values), with the line it started on. Bytes that are not UTF-8 are kept
as surrogate escapes so that the schema rejects the one record that holds them, naming the field.
After the last record, ``unread`` names the part of the file a quote never closed kept from being
read (None: read to the end).

Line items are spilled to a temporary SQLite file first (`ItemSpill`), so neither file has to be
sorted. A malformed line-item file is refused as a whole (`SourceError`): a statement silently
missing one transaction is worse than a late batch.
"""

from __future__ import annotations

import csv
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from factory.errors import SourceError
from factory.models import Position, RawRecord, Reject
from factory.sources.spill import ItemSpill

FIELD_LIMIT = 1 << 20  # 1 MiB per field, far above anything a customer record needs


@contextmanager
def open_text(path: Path) -> Iterator[IO[str]]:
    """Open a CSV file as text: BOM stripped, undecodable bytes kept as surrogate escapes."""
    if not path.is_file():
        raise SourceError(f"{path}: file not found")
    with path.open("r", encoding="utf-8-sig", errors="surrogateescape", newline="") as handle:
        yield handle


def read_header(reader: Any, path: Path) -> list[str]:
    try:
        header = next(reader)
    except StopIteration:
        raise SourceError(f"{path}: the file is empty; expected a header row") from None
    except csv.Error as exc:
        raise SourceError(f"{path}:1: the header row is not valid CSV: {exc}") from None
    header = [name.strip() for name in header]
    if not any(header):
        raise SourceError(f"{path}:1: the header row is empty")
    seen: set[str] = set()
    for name in header:
        if not name:
            raise SourceError(f"{path}:1: the header has an empty column name")
        if name in seen:
            raise SourceError(f"{path}:1: column {name!r} appears twice in the header")
        seen.add(name)
    return header


def unread_remainder(path: Path, start: int) -> tuple[int, int, int]:
    """(first line, last line, bytes) of ``path`` from line ``start`` to its end."""
    lines = size = 0
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            if number >= start:
                lines = number
                size += len(line)
    return start, max(lines, start), size


def iter_rows(path: Path, delimiter: str, unread: list[str] | None = None
              ) -> Generator[tuple[int, list[str] | None, str | None], None, None]:
    """Yield (start line, values, error) for every data row; the header is checked first.

    A quote never closed makes the csv module swallow the rest of the file into one value:
    that row is yielded as an error, and ``unread`` gets what could not be read (lines and
    bytes from the line named), so a run cannot claim to have read the file to its end."""
    csv.field_size_limit(FIELD_LIMIT)
    with open_text(path) as handle:
        reader = csv.reader(handle, delimiter=delimiter, strict=True)
        header = read_header(reader, path)
        yield 1, header, None
        last_line = reader.line_num
        while True:
            start = last_line + 1
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                message = str(exc)
                if "unexpected end of data" in message:
                    first, last, size = unread_remainder(path, start)
                    message = (f"a quoted value opened on line {start} or later is never closed;"
                               f" the rest of the file (lines {first}-{last}, {size:,} bytes)"
                               " could not be read")
                    if unread is not None:
                        unread.append(f"{path.name}: lines {first}-{last} ({size:,} bytes) not"
                                      f" read: a quoted value opened on line {first} or later"
                                      " is never closed; fix the quoting and run again")
                yield start, None, f"malformed CSV: {message}"
                last_line = reader.line_num
                continue
            last_line = reader.line_num
            if not row or (len(row) == 1 and not row[0].strip()):
                continue  # blank line
            if len(row) != len(header):
                yield start, None, (
                    f"row has {len(row)} values but the header has {len(header)} columns"
                )
                continue
            yield start, row, None


class CsvSource:
    """Records from a CSV file, optionally joined to line items from a second CSV."""

    def __init__(
        self,
        path: Path,
        delimiter: str = ",",
        items_path: Path | None = None,
        items_key: str | None = None,
        items_field: str = "items",
        items_delimiter: str = ",",
        tmp_dir: Path | None = None,
    ) -> None:
        self.path = path
        self.name = path.name
        self.delimiter = delimiter
        self.items_path = items_path
        self.items_key = items_key
        self.items_field = items_field
        self.items_delimiter = items_delimiter
        self.tmp_dir = tmp_dir
        self.orphan_items = 0
        self.orphan_keys: list[str] = []
        self.unread: str | None = None

    def columns(self) -> list[str]:
        rows = iter_rows(self.path, self.delimiter)
        _, header, _ = next(rows)
        rows.close()
        assert header is not None
        return header

    def count(self) -> int:
        rows = iter_rows(self.path, self.delimiter)
        next(rows)
        return sum(1 for _ in rows)

    def records(self) -> Iterator[RawRecord | Reject]:
        spill = self._spill_items() if self.items_path else None
        items_key = self.items_key or ""  # set whenever spill is (_spill_items checks it)
        try:
            unread: list[str] = []
            rows = iter_rows(self.path, self.delimiter, unread)
            _, header, _ = next(rows)
            assert header is not None
            index = 0
            for line, row, error in rows:
                index += 1
                position = Position(self.name, index, line)
                if row is None:
                    yield Reject(position, error or "unreadable row")
                    continue
                data: dict[str, Any] = dict(zip(header, row, strict=True))
                if spill is not None:
                    data[self.items_field] = spill.take(str(data.get(items_key, "")).strip())
                yield RawRecord(position, data)
            self.unread = unread[0] if unread else None
            if spill is not None:
                self.orphan_items, self.orphan_keys = spill.orphans()
        finally:
            if spill is not None:
                spill.close()

    def _spill_items(self) -> ItemSpill:
        assert self.items_path is not None and self.items_key is not None
        spill = ItemSpill(self.tmp_dir)
        try:
            spill.load(self._item_pairs())
        except BaseException:
            spill.close()
            raise
        return spill

    def _item_pairs(self) -> Iterator[tuple[str, dict[str, str]]]:
        assert self.items_path is not None and self.items_key is not None
        rows = iter_rows(self.items_path, self.items_delimiter)
        _, header, _ = next(rows)
        assert header is not None
        if self.items_key not in header:
            raise SourceError(
                f"{self.items_path}:1: the key column {self.items_key!r} is not in the header"
                f" ({', '.join(header)})"
            )
        for line, row, error in rows:
            if row is None:
                raise SourceError(
                    f"{self.items_path}:{line}: {error}. A line-item file must be read whole,"
                    " so the batch was not started; fix the extract and run again"
                )
            item = dict(zip(header, row, strict=True))
            key = item.pop(self.items_key).strip()
            yield key, item
