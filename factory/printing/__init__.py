"""Print production: print-ready streams for the mail room, from archived documents.

Takes print items (an archived document's storage key, record key, page count and postal
address, see `items`) and the job's ``[print]`` options; gives `PrintOutput` values, one per
batch: the merged print file, its cover page and its manifest (JSON and CSV). The stages, each
its own module::

    select ─► plan (householding ─► envelopes and sheets ─► batches) ─► assemble (merge,
    blank back pages, marks) ─► manifest, cover

This package reads and writes nothing itself: documents come through the ``fetch`` function
given, and the outputs are returned as bytes for the runner to archive and index (so issue #3's
routing can hand it its own list of print items).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from factory.jobs.print import PrintSpec
from factory.printing.assemble import Assembled, assemble
from factory.printing.cover import cover_pdf
from factory.printing.items import PostalAddress, PrintItem, address_from
from factory.printing.manifest import manifest_csv, manifest_json
from factory.printing.marks import check_clear
from factory.printing.plan import Batch, plan_batches
from factory.printing.select import parse_rule, select_items


@dataclass(frozen=True)
class PrintOutput:
    batch: Batch
    file_name: str
    stream: Assembled
    cover: bytes
    manifest_json: bytes
    manifest_csv: bytes


def build_print_files(items: Iterable[PrintItem], spec: PrintSpec, *, job: str, period: str,
                      fetch: Callable[[PrintItem], bytes],
                      window: tuple[float, float, float, float] | None = None,
                      ) -> list[PrintOutput]:
    """Plan and assemble the print files of ``items`` (already selected)."""
    check_clear(spec.marks, spec.omr, window)
    batches = plan_batches(items, job=job, period=period, duplex=spec.duplex,
                           max_sheets=spec.max_sheets,
                           envelope_max_sheets=spec.envelope_max_sheets)
    outputs = []
    for batch in batches:
        name = f"{job}-{period}-print-{batch.number:03d}.pdf"
        outputs.append(PrintOutput(
            batch, name, assemble(batch, fetch, spec),
            cover_pdf(batch, job=job, period=period, file_name=name, duplex=spec.duplex,
                      batches=len(batches)),
            manifest_json(batch, job=job, period=period, file_name=name, duplex=spec.duplex),
            manifest_csv(batch)))
    return outputs


__all__ = ["Batch", "PostalAddress", "PrintItem", "PrintOutput", "address_from",
           "build_print_files", "parse_rule", "plan_batches", "select_items"]
