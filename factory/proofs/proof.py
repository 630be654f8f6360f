"""A proof: the chosen records rendered with two template-set versions, compared and checked.

Takes a job, settings, its source and schema, the two `VersionTree` values (current and
``against``), the period and issue date, an output folder and optionally the index (to show
approvals); gives a `ProofReport` and writes, under the output folder, one folder per record
(``records/<key>/``: both PDFs, page images ``old-N.png`` / ``new-N.png`` and the overlay
``diff-N.png``) and the report (``report.html``, ``report.json``, see `report`).

For each record: render both versions (a failure is a result, not an exception), read both PDFs
back (`pages.read_pdf`), diff every page's pixels and the text, and run the layout checks
(`layout.check_layout`) on both renderings. A record *changed* when a page's pixels, the text,
the page count or the ability to render differ; it *fails* when the current version cannot
render it or any layout check finds something in the current rendering.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from factory.archive.index import SqlIndex
from factory.archive.versions import Approval, approval_of
from factory.config import Settings
from factory.errors import ConfigError, RenderError
from factory.jobs import JobSpec, RecordSchema
from factory.models import Period
from factory.proofs.diff import diff_page, text_diff
from factory.proofs.layout import check_layout
from factory.proofs.pages import PageContent, read_pdf
from factory.proofs.render import ProofRenderer, Rendering
from factory.proofs.report import write_report
from factory.proofs.result import ProofReport, RecordProof, Side, VersionInfo
from factory.proofs.select import ProofRecord, Selection, select_records
from factory.proofs.versions import VersionTree
from factory.sources import Source


@dataclass(frozen=True)
class ProofOptions:
    period: Period
    issued: date
    out_dir: Path
    dpi: float = 96


#: zlib level of the page images: 1 writes them ~2x faster than the default 6, ~15% larger.
PNG_LEVEL = 1

#: Called after each record: (records done, records in all, the record's result).
ProofProgress = Callable[[int, int, RecordProof], None]


def run_proof(job: JobSpec, settings: Settings, source: Source, schema: RecordSchema,
              current: VersionTree, against: VersionTree, options: ProofOptions,
              index: SqlIndex | None = None, progress: ProofProgress | None = None
              ) -> ProofReport:
    """Select, render twice, compare, check and write the report (see the module docstring)."""
    _prepare_folder(options.out_dir)
    selection: Selection = select_records(source, schema, job)
    new = ProofRenderer(job, settings, current, options.period, options.issued)
    old = ProofRenderer(job, settings, against, options.period, options.issued,
                        stamp=new.version, variants_required=False)
    report = ProofReport(
        job=job.name, template_set=job.template_set, brand=job.brand,
        period=options.period.code,
        current=VersionInfo(current.label, new.version, _approval(index, job, new.version)),
        against=VersionInfo(against.label, old.version, _approval(index, job, old.version)),
        records=[], scanned=selection.scanned, rejected=selection.rejected, dpi=options.dpi,
        out_dir=options.out_dir)
    for done, chosen in enumerate(selection.records, start=1):
        result = proof_record(chosen, old, new, options)
        report.records.append(result)
        if progress is not None:
            progress(done, len(selection.records), result)
    write_report(report)
    return report


def _prepare_folder(folder: Path) -> None:
    """An empty folder, or an earlier proof report's (whose record files are replaced)."""
    if folder.exists() and any(folder.iterdir()):
        if not (folder / "report.json").is_file():
            raise ConfigError(f"{folder}: the folder is not empty and holds no proof report;"
                              " choose another --out")
        shutil.rmtree(folder / "records", ignore_errors=True)
    folder.mkdir(parents=True, exist_ok=True)


def _approval(index: SqlIndex | None, job: JobSpec, version: str) -> Approval | None:
    return approval_of(index, job.template_set, version) if index is not None else None


def _side(renderer: ProofRenderer, rendering: Rendering, dpi: float
          ) -> tuple[Side, list[PageContent]]:
    if rendering.error is not None:
        return Side(error=rendering.error), []
    try:
        pages = read_pdf(rendering.pdf, dpi)
    except RenderError as exc:
        return Side(error=str(exc)), []
    findings = check_layout(pages, rendering.html, renderer.templates.brand, renderer.coverage)
    return Side(pages=len(pages), findings=findings), pages


def _page_text(pages: list[PageContent]) -> str:
    return "\n".join(f"[page {page.number}]\n{page.text.rstrip()}" for page in pages)


def proof_record(chosen: ProofRecord, old: ProofRenderer, new: ProofRenderer,
                 options: ProofOptions) -> RecordProof:
    """Render one record with both versions, write its files, compare and check them."""
    folder = options.out_dir / "records" / chosen.key
    folder.mkdir(parents=True, exist_ok=True)
    renderings = {"old": old.proof(chosen.record), "new": new.proof(chosen.record)}
    for name, rendering in renderings.items():
        if rendering.error is None:
            (folder / f"{name}.pdf").write_bytes(rendering.pdf)
    old_side, old_pages = _side(old, renderings["old"], options.dpi)
    new_side, new_pages = _side(new, renderings["new"], options.dpi)
    result = RecordProof(chosen.key, chosen.record.locale, list(chosen.reasons),
                         old_side, new_side)
    for number in range(1, max(len(old_pages), len(new_pages)) + 1):
        before = old_pages[number - 1].image if number <= len(old_pages) else None
        after = new_pages[number - 1].image if number <= len(new_pages) else None
        page_diff, overlay = diff_page(number, before, after)
        result.pages.append(page_diff)
        if before is not None:
            before.save(folder / f"old-{number}.png", compress_level=PNG_LEVEL)
        if after is not None:
            after.save(folder / f"new-{number}.png", compress_level=PNG_LEVEL)
        overlay.save(folder / f"diff-{number}.png", compress_level=PNG_LEVEL)
    if old_pages or new_pages:
        result.text_diff = text_diff(_page_text(old_pages), _page_text(new_pages),
                                     f"{old.tree.label} ({old.version[:12]})",
                                     f"{new.tree.label} ({new.version[:12]})")
    return result
