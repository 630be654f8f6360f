"""Files a run writes beside its report, each appearing atomically.

Takes rows (dicts) or a whole JSON document; gives files that are either complete or absent:
rows go to ``<name>.partial`` and are renamed into place on `close`, a JSON document is written
to a temporary name and renamed.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from factory.files import write_atomic


def write_json_atomic(path: Path, data: Any) -> None:
    write_atomic(path, json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")


class JsonLines:
    """An append-only JSON Lines file that appears under its name only when closed."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.partial = path.with_name(path.name + ".partial")
        self.count = 0
        self._handle: Any = None

    def write(self, row: dict[str, Any]) -> None:
        if self._handle is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._handle = self.partial.open("w", encoding="utf-8")
        self._handle.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
        self.count += 1

    def close(self) -> Path | None:
        """Finish the file; return its path, or None when nothing was written."""
        if self._handle is None:
            return None
        self._handle.flush()
        os.fsync(self._handle.fileno())
        self._handle.close()
        self._handle = None
        self.partial.replace(self.path)
        return self.path
