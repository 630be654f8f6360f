"""What one run counts and writes as records flow: the counts, the reasons, the files.

Takes the `RunReport` being filled and the run's folder; gives `RunState`, which counts each
reject and outcome (per record and per channel), writes ``rejects.jsonl``, ``failures.jsonl``
(failure reasons with any URL masked) and ``suppressions.jsonl``, and `settle` fills the
report's summaries at the end. Reasons are tallied by kind (`ReasonTally`). `count_in_flight`
counts, for a stopped run, what its workers archived while their outcomes were in flight.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

from factory.archive.protocols import HasDocuments
from factory.errors import FactoryError
from factory.jobs import JobSpec
from factory.models import (
    ChannelCounts,
    ChannelStatus,
    Counts,
    Outcome,
    Record,
    Reject,
    RunReport,
    Status,
)
from factory.pipeline import CHANNEL
from factory.runner.files import JsonLines
from factory.urls import mask_urls_in


def _label(field_name: str | None, reason: str) -> str:
    """A reason without its details (what was got, where first seen), under its field."""
    head = re.split(r",? got |\(got |, first seen| \(|;", reason, maxsplit=1)[0]
    head = head.strip().rstrip(":")[:80]
    if field_name is None or head.startswith(f"{field_name}:"):
        return head
    return f"{field_name}: {head}"


class ReasonTally:
    """Reasons counted by kind (numbers aside: 'row 7 ...' and 'row 9 ...' are one kind), each
    kind shown by its first reason as written."""

    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()
        self._shown: dict[str, str] = {}

    def add(self, label: str) -> None:
        kind = re.sub(r"\d+", "N", label)
        self._shown.setdefault(kind, label)
        self._counts[kind] += 1

    def as_dict(self) -> dict[str, int]:
        return {self._shown[kind]: count for kind, count in self._counts.items()}


class RunState:
    """The counts and files of one run, updated as records flow."""

    def __init__(self, report: RunReport, run_dir: Path) -> None:
        self.report = report
        self.run_dir = run_dir
        self.rejects = JsonLines(run_dir / "rejects.jsonl")
        self.failures = JsonLines(run_dir / "failures.jsonl")
        self.suppressions = JsonLines(run_dir / "suppressions.jsonl")
        self.planned = 0
        self._reject_reasons = ReasonTally()
        self._failure_reasons = ReasonTally()
        self._suppression_reasons = ReasonTally()
        self._locales: Counter[str] = Counter()
        self._types: Counter[str] = Counter()

    @property
    def counts(self) -> Counts:
        return self.report.counts

    def rejected(self, reject: Reject) -> None:
        self.counts.rejected += 1
        self._reject_reasons.add(_label(reject.field or "record", reject.reason))
        self.rejects.write({
            "source": reject.position.source, "line": reject.position.line,
            "record": reject.position.index, "key": reject.key, "field": reject.field,
            "reason": reject.reason,
        })

    def planned_record(self, record: Record, document_type: str) -> None:
        self.planned += 1
        self._locales[record.locale] += 1
        self._types[document_type] += 1

    def channel(self, name: str) -> ChannelCounts:
        return self.report.channels.setdefault(name, ChannelCounts())

    def suppressed(self, key: str, channel: str, reason: str, position: object) -> None:
        self.channel(channel).suppressed += 1
        self._suppression_reasons.add(f"{channel}: {_label(None, reason)}")
        source = getattr(position, "source", None)
        self.suppressions.write({"source": source, "line": getattr(position, "line", None),
                                 "record": getattr(position, "index", None), "key": key,
                                 "channel": channel, "reason": reason})

    def channel_outcomes(self, outcome: Outcome) -> None:
        for result in outcome.channels:
            counts = self.channel(result.channel)
            if result.status is ChannelStatus.SUPPRESSED:
                self.suppressed(outcome.key, result.channel, result.reason or "",
                                outcome.position)
                continue
            if result.rendered:
                counts.rendered += 1
            if result.status is ChannelStatus.SKIPPED:
                counts.skipped += 1
            elif result.status is ChannelStatus.FAILED:
                if result.retryable:
                    counts.failed_retryable += 1
                else:
                    counts.failed_permanent += 1
            elif result.channel == "pdf":
                counts.archived += 1
            elif result.channel == "print":
                counts.queued += 1
            else:
                counts.sent += 1

    def outcome(self, outcome: Outcome) -> None:
        self.channel_outcomes(outcome)
        counts = self.counts
        if outcome.rendered:
            counts.rendered += 1
        if outcome.status is Status.ARCHIVED:
            counts.archived += 1
            counts.pages += outcome.pages
            counts.bytes += outcome.byte_size
        elif outcome.status is Status.SKIPPED:
            counts.skipped += 1
        else:
            counts.failed += 1
            reason = mask_urls_in(outcome.reason or "unknown")  # a transport quoting its URL
            self._failure_reasons.add(_label(None, reason))
            failed = next((c.channel for c in outcome.channels
                           if c.status is ChannelStatus.FAILED), None)
            self.failures.write({
                "source": outcome.position.source, "line": outcome.position.line,
                "record": outcome.position.index, "key": outcome.key, "reason": reason,
                "retryable": outcome.retryable,
                "channel": failed or ("routing" if outcome.reason
                                      and outcome.reason.startswith("routing:") else None),
            })

    def settle(self) -> None:
        """Fill the report's summaries; pending = planned but not processed."""
        counts = self.counts
        counts.pending = self.planned - (counts.archived + counts.failed + counts.skipped)
        self.report.reject_reasons = self._reject_reasons.as_dict()
        self.report.failure_reasons = self._failure_reasons.as_dict()
        self.report.suppression_reasons = self._suppression_reasons.as_dict()
        self.report.by_locale = dict(self._locales)
        self.report.by_document_type = dict(self._types)
        rejects = self.rejects.close()
        failures = self.failures.close()
        suppressions = self.suppressions.close()
        self.report.suppressions_file = str(suppressions) if suppressions else None
        self.report.rejects_file = str(rejects) if rejects else None
        self.report.failures_file = str(failures) if failures else None


def count_in_flight(job: JobSpec, run_id: str, state: RunState, index: HasDocuments) -> None:
    """A stopped run: records its workers archived whose outcome never came back (the chunk
    was in flight) are counted from the index, when the PDF is all the job sends; otherwise
    they stay 'not processed' and the rerun settles them."""
    if list(job.channels) != [CHANNEL]:
        return
    try:
        documents, pages, size = index.documents.run_totals(run_id, CHANNEL)
    except FactoryError:
        return
    counts = state.counts
    unsettled = state.planned - (counts.archived + counts.failed + counts.skipped)
    missing = min(documents - counts.archived, unsettled)
    if missing > 0 and documents - counts.archived == missing:
        counts.archived, counts.pages, counts.bytes = documents, pages, size
        counts.rendered += missing
        state.report.warnings.append(
            f"{missing} record(s) archived by workers while the run stopped are counted from"
            " the index")
