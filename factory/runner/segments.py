"""A run's filter and segments, applied as records are read, and what they count.

Takes the job (its ``where`` and ``[[segments]]``, `factory.jobs.segments`) and the run's
`RunState`; gives `SegmentCounter`, whose ``take`` turns each validated record into the
record (counted under its segment), ``None`` (filtered out: counted per reason in
``report.filtered_out`` and ``counts.filtered``, a term of the reconciliation, and its key
written to ``filtered.jsonl`` beside the rejects) or a `Reject` (the expression could not be
evaluated for it, naming the expression and the field). ``settle`` fills the report.
"""

from __future__ import annotations

from collections import Counter

from factory.errors import RecordError
from factory.jobs import JobSpec
from factory.jobs.segments import segment_variants, segmenter_for
from factory.models import Record, Reject
from factory.runner.accounting import RunState
from factory.runner.files import JsonLines


class SegmentCounter:
    def __init__(self, job: JobSpec, state: RunState) -> None:
        self.segmenter = segmenter_for(job)
        self.variants = segment_variants(job)
        self.state = state
        self.file = JsonLines(state.run_dir / "filtered.jsonl")
        self.segments: Counter[str] = Counter()
        self.filtered: Counter[str] = Counter()

    def take(self, item: Record | Reject) -> Record | Reject | None:
        if isinstance(item, Reject) or not self.segmenter.active:
            return item
        try:
            verdict = self.segmenter.classify(item.data, item.locale)
        except RecordError as exc:
            return Reject(item.position, exc.reason, exc.field, item.key)
        if verdict.filtered is not None:
            self.filtered[verdict.filtered] += 1
            self.state.counts.filtered += 1
            self.file.write({"source": item.position.source, "line": item.position.line,
                             "record": item.position.index, "key": item.key,
                             "filtered_by": verdict.filtered})
            return None
        if verdict.segment is not None:
            self.segments[verdict.segment] += 1
        return item

    def settle(self) -> None:
        report = self.state.report
        report.segments = dict(self.segments)
        report.variants = {k: v for k, v in self.variants.items() if k in self.segments}
        report.filtered_out = dict(self.filtered)
        try:
            written = self.file.close()
        except OSError as exc:
            report.warnings.append(f"the run's filtered.jsonl is incomplete: {exc}")
            return
        report.filtered_file = str(written) if written else None
