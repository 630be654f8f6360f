"""The counts of a run: per record, per channel, and the run report that proves them.

Takes outcomes as the runner accounts them (`factory.runner.accounting`); gives `Counts`,
`ChannelCounts` and `RunReport` (its ``as_dict`` is ``report.json``). Re-exported by
`factory.models`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any


@dataclass(slots=True)
class ChannelCounts:
    """Per-channel totals. A record is counted once per channel it was routed to, plus once
    per channel routing left out (``suppressed``)."""

    rendered: int = 0
    sent: int = 0
    queued: int = 0
    archived: int = 0
    skipped: int = 0
    failed_retryable: int = 0
    failed_permanent: int = 0
    suppressed: int = 0


@dataclass(slots=True)
class Counts:
    """Running totals of a run. ``input`` counts every record the source produced."""

    input: int = 0
    rejected: int = 0
    rendered: int = 0
    archived: int = 0
    skipped: int = 0
    failed: int = 0
    pending: int = 0
    pages: int = 0
    bytes: int = 0
    #: Records the job's ``where`` or its segments left out (`factory.jobs.segments`).
    filtered: int = 0

    @property
    def accounted(self) -> int:
        return (self.archived + self.rejected + self.failed + self.skipped + self.pending
                + self.filtered)

    @property
    def balanced(self) -> bool:
        return self.input == self.accounted

    def reconciliation_line(self, pending_label: str = "not processed") -> str:
        sign = "=" if self.balanced else "≠"
        line = (
            f"input {self.input} {sign} archived {self.archived} + rejected {self.rejected}"
            f" + failed {self.failed} + skipped {self.skipped}"
        )
        if self.filtered:
            line += f" + filtered out {self.filtered}"
        if self.pending:
            line += f" + {pending_label} {self.pending}"
        if not self.balanced:
            line += f"  (UNACCOUNTED {self.input - self.accounted})"
        return line


@dataclass(slots=True)
class RunReport:
    """What a run did, as written to report.json and summarised on the console."""

    run_id: str
    job: str
    period: str
    dry_run: bool
    started_at: datetime
    finished_at: datetime | None = None
    counts: Counts = field(default_factory=Counts)
    by_document_type: dict[str, int] = field(default_factory=dict)
    by_locale: dict[str, int] = field(default_factory=dict)
    reject_reasons: dict[str, int] = field(default_factory=dict)
    failure_reasons: dict[str, int] = field(default_factory=dict)
    template_version: str = ""
    workers: int = 1
    executor: str = "inline"
    rejects_file: str | None = None
    failures_file: str | None = None
    interrupted: bool = False
    error: str | None = None
    warnings: list[str] = field(default_factory=list)
    store_url: str = ""
    index_url: str = ""
    print_files: dict[str, Any] | None = None
    channels: dict[str, ChannelCounts] = field(default_factory=dict)
    routing: dict[str, int] = field(default_factory=dict)
    suppression_reasons: dict[str, int] = field(default_factory=dict)
    suppressions_file: str | None = None
    #: The part of the input the source could not read (a quote never closed): the counts
    #: then cover only what was read, and the run does not balance.
    unread: str | None = None
    #: Why the run stopped before its end when it was not asked to (no space left).
    stop_reason: str | None = None
    #: Records per named segment, records filtered out per reason ("where", "no segment"),
    #: and the file listing the filtered-out keys (`factory.runner.segments`).
    segments: dict[str, int] = field(default_factory=dict)
    #: The template variant of each segment that names one ({segment: variant}).
    variants: dict[str, str] = field(default_factory=dict)
    filtered_out: dict[str, int] = field(default_factory=dict)
    filtered_file: str | None = None

    @property
    def status(self) -> str:
        if self.error:
            return "failed"
        if self.interrupted:
            return "interrupted"
        return "completed"

    @property
    def pending_label(self) -> str:
        return "to render" if self.dry_run else "not processed"

    @property
    def balanced(self) -> bool:
        """Counts add up, the input was read to its end, and a finished real run left nothing
        unprocessed."""
        if not self.counts.balanced or self.unread:
            return False
        return self.dry_run or self.interrupted or bool(self.error) or self.counts.pending == 0

    @property
    def elapsed_seconds(self) -> float:
        end = self.finished_at or self.started_at
        return max((end - self.started_at).total_seconds(), 0.0)

    @property
    def docs_per_second(self) -> float:
        elapsed = self.elapsed_seconds
        return self.counts.rendered / elapsed if elapsed > 0 else 0.0

    @property
    def pages_per_second(self) -> float:
        elapsed = self.elapsed_seconds
        return self.counts.pages / elapsed if elapsed > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        counts = asdict(self.counts)
        return {
            "run_id": self.run_id,
            "job": self.job,
            "period": self.period,
            "dry_run": self.dry_run,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "elapsed_seconds": round(self.elapsed_seconds, 3),
            "docs_per_second": round(self.docs_per_second, 2),
            "pages_per_second": round(self.pages_per_second, 2),
            "counts": counts,
            "status": self.status,
            "error": self.error,
            "warnings": list(self.warnings),
            "reconciliation": {
                "balanced": self.balanced,
                "line": self.counts.reconciliation_line(self.pending_label),
                "unread": self.unread,
            },
            "stop_reason": self.stop_reason,
            "store_url": self.store_url,
            "index_url": self.index_url,
            "by_document_type": dict(sorted(self.by_document_type.items())),
            "by_locale": dict(sorted(self.by_locale.items())),
            "reject_reasons": dict(sorted(self.reject_reasons.items())),
            "failure_reasons": dict(sorted(self.failure_reasons.items())),
            "template_version": self.template_version,
            "workers": self.workers,
            "executor": self.executor,
            "rejects_file": self.rejects_file,
            "failures_file": self.failures_file,
            "interrupted": self.interrupted,
            "print": self.print_files,
            "channels": {name: asdict(c) for name, c in sorted(self.channels.items())},
            "routing": dict(sorted(self.routing.items())),
            "suppression_reasons": dict(sorted(self.suppression_reasons.items())),
            "suppressions_file": self.suppressions_file,
            "segments": dict(self.segments),
            "variants": dict(self.variants),
            "filtered_out": dict(self.filtered_out),
            "filtered_file": self.filtered_file,
        }
