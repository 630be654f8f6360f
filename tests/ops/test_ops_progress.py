"""On resume, the log line's ETA counts only records this run processed: 4 minutes of work
left must not show as 18 seconds because hundreds of records were skipped."""

from __future__ import annotations

import io

from rich.console import Console

from factory.cli import progress as module
from factory.cli.progress import LogProgress
from factory.models import Counts


def test_resume_eta_counts_only_this_runs_records(monkeypatch) -> None:
    clock = iter([0.0, 0.0, 60.0, 60.0])
    monkeypatch.setattr(module.time, "monotonic", lambda: next(clock))
    out = io.StringIO()
    log = LogProgress(Console(file=out, width=300), interval=0)
    log.start(1000, "job 2026-11")
    # A minute in: 800 skipped (archived before), 40 rendered now: 160 left at 40/min.
    log.update(Counts(input=840, rendered=40, archived=40, skipped=800))
    line = out.getvalue().splitlines()[-1]
    assert "840/1000 processed" in line and "0.7 docs/s" in line
    assert "ETA 4:00" in line, line
