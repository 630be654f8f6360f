"""What a proof found, as values: per record, per version, and for the whole proof.

Takes nothing; gives `Side` (one version's rendering of a record: pages, layout findings, or
the error), `RecordProof` (both sides, the page diffs and the text diff, and whether the record
*changed* or *failed*), `VersionInfo` and `ProofReport` (everything, with ``as_dict`` for
``report.json``). A record fails when the current version cannot render it or a layout check
finds something in its current rendering.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from factory.archive.versions import Approval
from factory.proofs.diff import PageDiff
from factory.proofs.layout import Finding


@dataclass
class Side:
    """One version's rendering of one record, as the report shows it."""

    pages: int = 0
    findings: list[Finding] = field(default_factory=list)
    error: str | None = None


@dataclass
class RecordProof:
    key: str
    locale: str
    reasons: list[str]
    old: Side
    new: Side
    pages: list[PageDiff] = field(default_factory=list)
    text_diff: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return (any(page.changed for page in self.pages) or bool(self.text_diff)
                or self.old.pages != self.new.pages or self.old.error != self.new.error)

    @property
    def failed(self) -> bool:
        return self.new.error is not None or bool(self.new.findings)

    @property
    def changed_pixels(self) -> int:
        return sum(page.changed_pixels for page in self.pages)

    @property
    def largest_change(self) -> float:
        return max((page.ratio for page in self.pages), default=0.0)


@dataclass
class VersionInfo:
    label: str
    version: str
    approval: Approval | None = None


@dataclass
class ProofReport:
    job: str
    template_set: str
    brand: str
    period: str
    current: VersionInfo
    against: VersionInfo
    records: list[RecordProof]
    scanned: int
    rejected: int
    dpi: float
    out_dir: Path
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def changed(self) -> list[RecordProof]:
        return [r for r in self.records if r.changed]

    @property
    def failed(self) -> list[RecordProof]:
        return [r for r in self.records if r.failed]

    @property
    def status(self) -> str:
        if self.failed:
            return "failed"
        return "changed" if self.changed else "unchanged"

    @property
    def html_path(self) -> Path:
        return self.out_dir / "report.html"

    def as_dict(self) -> dict[str, Any]:
        def version(info: VersionInfo) -> dict[str, Any]:
            approval = info.approval
            return {"label": info.label, "version": info.version,
                    "approved_by": approval.approved_by if approval else None,
                    "approved_at": approval.approved_at.isoformat() if approval else None}

        def side(value: Side) -> dict[str, Any]:
            return {"pages": value.pages, "error": value.error,
                    "findings": [{"check": f.check, "page": f.page, "message": f.message}
                                 for f in value.findings]}

        return {
            "job": self.job, "template_set": self.template_set, "brand": self.brand,
            "period": self.period, "status": self.status,
            "created_at": self.created_at.isoformat(), "dpi": self.dpi,
            "current": version(self.current), "against": version(self.against),
            "scanned": self.scanned, "rejected": self.rejected,
            "records_changed": len(self.changed), "records_failed": len(self.failed),
            "records": [{
                "key": r.key, "locale": r.locale, "reasons": r.reasons,
                "changed": r.changed, "failed": r.failed,
                "changed_pixels": r.changed_pixels,
                "largest_page_change": round(r.largest_change, 6),
                "text_diff_lines": len(r.text_diff),
                "pages": [{"page": p.number, "changed_pixels": p.changed_pixels,
                           "ratio": round(p.ratio, 6), "box": p.box, "only_in": p.only_in}
                          for p in r.pages],
                "old": side(r.old), "new": side(r.new),
            } for r in self.records],
        }
