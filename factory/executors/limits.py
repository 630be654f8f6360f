"""A worker process's memory cap, and what becomes of the record that hits it.

Takes the cap (`Settings.worker_memory_bytes`, FACTORY_WORKER_MEMORY, default 2 GiB; None: no
cap) and a warm `Worker`; gives `cap_memory`, which limits the data the process may write
(``RLIMIT_DATA``: heap and private writable mappings; an allocation past it raises MemoryError
in Python instead of growing the process until the machine swaps or the kernel kills
something), and `process_guarded`, which runs
records through the worker and turns a MemoryError into that record's failure with a clear
reason. The records after it are handed back unprocessed: the executor replaces the worker
process (a MemoryError inside C code may leave it damaged) and runs them in the new one.
"""

from __future__ import annotations

import gc
import resource
from typing import Any

from factory.models import Outcome, Record, Status

#: What the cap limits. Not the address space (RLIMIT_AS): runtimes reserve far more of it
#: than they use (Saxon's, behind the official e-invoice rules, reserves about 32 GiB at start
#: and cannot start under a 2 GiB address-space cap); a reservation writes no data.
LIMIT = resource.RLIMIT_DATA


def cap_memory(limit: int | None) -> int | None:
    """Limit the data this process may write to ``limit`` bytes (never above the hard limit
    the process was given); returns the soft limit now in force, or None when there is none."""
    if limit is None:
        soft, _hard = resource.getrlimit(LIMIT)
        return None if soft == resource.RLIM_INFINITY else soft
    _soft, hard = resource.getrlimit(LIMIT)
    soft = limit if hard == resource.RLIM_INFINITY else min(limit, hard)
    resource.setrlimit(LIMIT, (soft, hard))
    return soft


def size_text(size: int | None) -> str:
    if size is None:
        return "no limit"
    for unit, factor in (("GiB", 1024**3), ("MiB", 1024**2)):
        if size >= factor:
            return f"{size / factor:.3g} {unit}"
    return f"{size} bytes"


def memory_failure(record: Record, limit: int | None) -> Outcome:
    return Outcome(record.key, record.position, Status.FAILED, retryable=False,
                   reason=f"memory limit: rendering this record needed more than the"
                          f" {size_text(limit)} a worker may use (FACTORY_WORKER_MEMORY);"
                          " the worker process was replaced")


Guarded = tuple[list[Outcome], list[Record] | None]


def process_guarded(worker: Any, records: list[Record], limit: int | None,
                    holder: str | None = None) -> Guarded:
    """(outcomes, None) when every record was processed; (outcomes, the records not processed)
    when one hit the memory cap: it failed, and the rest are for a fresh worker process."""
    outcomes: list[Outcome] = []
    chunk = worker.chunk(records, holder)  # the records' slots claimed and completed together
    try:
        for number, record in enumerate(records):
            try:
                outcomes.append(chunk.process(record))
            except MemoryError:
                gc.collect()
                outcomes.append(memory_failure(record, limit))
                return chunk.settle(outcomes), records[number + 1:]
        return chunk.settle(outcomes), None
    finally:
        chunk.close()  # after an error that stops the run (a full disk): what was done


__all__ = ["Guarded", "cap_memory", "memory_failure", "process_guarded", "size_text"]
