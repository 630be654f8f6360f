"""Atomic file writes: a temporary name beside the target, fsync, then one rename.

Takes a path and bytes or text; gives a file that is either whole under its name or not there
at all (the temporary ``.<name>.<uuid>.tmp`` is removed on any failure). `OSError` goes to the
caller, which says in its own words what could not be written. The lowest layer: the archive,
the outbox, run reports, proof reports and the CLI all write through it.
"""

from __future__ import annotations

import os
import stat
import uuid
from pathlib import Path

#: How temporary files are named: ``.<name>.<32 hex>.tmp`` beside the target.
TEMP_PATTERN = r"^\..+\.[0-9a-f]{32}\.tmp$"


def write_atomic(path: Path, data: bytes | str, *, read_only: bool = False,
                 exclusive: bool = False) -> None:
    """Write ``data`` (text as UTF-8) to ``path``; ``read_only`` leaves it r--r--r--;
    ``exclusive`` never replaces an existing file (`FileExistsError`), even one that appears
    while writing: the finished file is hard-linked into place, which fails if the name is
    taken, instead of renamed over it."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tmp.open("wb") as handle:
            handle.write(data.encode("utf-8") if isinstance(data, str) else data)
            handle.flush()
            os.fsync(handle.fileno())
        if read_only:
            tmp.chmod(stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
        if exclusive:
            os.link(tmp, path)
            tmp.unlink()
        else:
            tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


__all__ = ["TEMP_PATTERN", "write_atomic"]
