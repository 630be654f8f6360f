"""Runs seen by an operator: durations, rates and per-period totals over several runs.

Takes rows of the ``runs`` table as dicts (`RunRow.as_dict`, the report parsed); gives
`run_row` (a run with its duration in seconds and its docs/s) and `period_totals` (one line
per job and period, however many runs it took). A period resumed over three runs is one
period: its documents archived and pages are the sums over its runs (each run archives
records the earlier ones did not); input, rejected, failed and not processed are the newest
run's (every run reads the whole input again, and retries what failed before); the duration
is the sum of the runs' durations.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any


def duration_of(run: Mapping[str, Any]) -> float | None:
    started, finished = run.get("started_at"), run.get("finished_at")
    if isinstance(started, datetime) and isinstance(finished, datetime):
        return max((finished - started).total_seconds(), 0.0)
    report = run.get("report") or {}
    seconds = report.get("elapsed_seconds")
    return float(seconds) if isinstance(seconds, int | float) else None


def run_row(run: Mapping[str, Any]) -> dict[str, Any]:
    counts = (run.get("report") or {}).get("counts", {})
    seconds = duration_of(run)
    rendered = counts.get("rendered", 0)
    return {
        "run_id": run["run_id"], "job": run["job"], "period": run["period"],
        "status": run["status"], "started_at": _iso(run.get("started_at")),
        "finished_at": _iso(run.get("finished_at")), "duration_seconds": seconds,
        "docs_per_second": round(rendered / seconds, 2) if seconds and rendered else None,
        "counts": dict(counts),
    }


def period_totals(runs: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One total per (job, period), newest period first; ``runs`` in any order."""
    groups: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for run in runs:
        groups.setdefault((run["job"], run["period"]), []).append(run)
    totals = []
    for (job, period), members in groups.items():
        members.sort(key=lambda r: r["started_at"])
        newest = (members[-1].get("report") or {}).get("counts", {})
        archived = pages = 0
        seconds = 0.0
        for run in members:
            counts = (run.get("report") or {}).get("counts", {})
            archived += counts.get("archived", 0)
            pages += counts.get("pages", 0)
            seconds += duration_of(run) or 0.0
        totals.append({
            "job": job, "period": period, "runs": [r["run_id"] for r in members],
            "status": members[-1]["status"], "input": newest.get("input", 0),
            "archived": archived, "pages": pages, "rejected": newest.get("rejected", 0),
            "failed": newest.get("failed", 0), "not_processed": newest.get("pending", 0),
            "duration_seconds": seconds,
        })
    return sorted(totals, key=lambda t: (t["period"], t["job"]), reverse=True)


def _iso(value: Any) -> str | None:
    return value.isoformat() if isinstance(value, datetime) else value


def hms(seconds: float | None) -> str:
    if seconds is None:
        return ""
    whole = round(seconds)
    return f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


def run_problems(run_dir: Path, limit: int = 500) -> dict[str, list[dict[str, Any]]]:
    """The run's rejected and failed records (key, line, full reason), from the files the run
    wrote (``rejects.jsonl``, ``failures.jsonl``), at most ``limit`` of each."""
    found: dict[str, list[dict[str, Any]]] = {"rejects": [], "failures": []}
    for name, kept in (("rejects", found["rejects"]), ("failures", found["failures"])):
        path = run_dir / f"{name}.jsonl"
        if not path.is_file():
            continue
        with path.open(encoding="utf-8") as lines:
            for line in lines:
                if len(kept) >= limit:
                    break
                with contextlib.suppress(ValueError):
                    kept.append(json.loads(line))
    return found
