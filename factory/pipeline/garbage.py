"""The garbage collector in a warm worker: its warm state frozen, one full collection per
rendered document instead of Python's automatic ones in the middle of a layout.

Takes nothing; gives `settle_warm_state` (called once the warm `Worker` is built: everything
alive then is moved out of the collector's sight with `gc.freeze`, and the young generation's
threshold is raised) and `after_document` (a full collection after a record that rendered a
document). WeasyPrint allocates a large graph of boxes per document, full of reference cycles;
with Python's default thresholds it triggered about one full collection every two statements,
each rescanning everything the layout still held. Collecting right after the document, when
its boxes are garbage, frees them at once and scans little.

Measured (2026-12-01, 60 reference statements in one warm `DocumentRenderer`, CPU per document,
alternating rounds, load average 1–5): the previous behaviour (warm state frozen, default
thresholds) 177–189 ms and 156 MiB peak RSS; this one 166–175 ms (−6%) and 148 MiB. Without
the freeze at all: 207–238 ms. In `make bench-scale` (layout stubbed) it adds nothing: a stub
allocates too little to trigger the per-document collection.
Hand-written because the standard library's `gc` is the API:
there is no library for this, only the thresholds to choose.
"""

from __future__ import annotations

import gc

#: Allocations (net) between young-generation collections (Python's default: 700). The
#: middle and old generations keep their default ratios (10, 10).
YOUNG_THRESHOLD = 50_000


def settle_warm_state() -> None:
    """Freeze what is alive now (modules, fonts, parsed CSS, compiled templates: it lives as
    long as the process) and raise the young generation's threshold."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)


_first_document = True


def after_document(rendered: bool) -> None:
    """One full collection after a record that rendered a document (its boxes are garbage
    now), when the young generation was collected at least once since the last full one (a
    real layout allocates millions of objects; a stubbed or tiny one does not: a collection
    for it would cost ~2.5 ms per record for nothing, measured with `make bench-scale`);
    nothing after a record that rendered nothing (an SMS, a skip). After the process's
    first document, what survived it (font and layout caches the first layout filled) is
    frozen too, once."""
    global _first_document
    _, young_collections, middle_collections = gc.get_count()
    if not rendered or not (young_collections or middle_collections):
        return  # fewer than YOUNG_THRESHOLD allocations since the last full collection
    gc.collect()
    if _first_document:
        _first_document = False
        gc.freeze()


__all__ = ["YOUNG_THRESHOLD", "after_document", "settle_warm_state"]
