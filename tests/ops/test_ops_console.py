"""The run summary on the console names each rejected and failed record by its key, with the
whole reason, however long (the reason tallies alone are cut to their kind)."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console

from factory.cli.output import print_summary
from factory.models import RunReport


def test_the_summary_lists_problems_with_key_and_full_reason(tmp_path: Path) -> None:
    reason = "email: " + "the address is not deliverable because " * 6 + "END"
    (tmp_path / "rejects.jsonl").write_text(json.dumps(
        {"source": "c.csv", "line": 7, "record": 6, "key": "C000042", "field": "email",
         "reason": reason}) + "\n", encoding="utf-8")
    report = RunReport(run_id="r1", job="j", period="2026-11", dry_run=False,
                       started_at=datetime.now(UTC), finished_at=datetime.now(UTC))
    report.counts.input = report.counts.rejected = 1
    report.reject_reasons = {reason[:80]: 1}
    out = io.StringIO()
    print_summary(Console(file=out, width=100), report, str(tmp_path))
    text = out.getvalue()
    assert "C000042 (line 7): " + reason in text, text
