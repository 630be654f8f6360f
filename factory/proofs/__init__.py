"""Proofs: a template change rendered, compared and checked before it reaches production.

Takes a job, its input, the current template-set version and another one (``--against REF``:
a version hash from the index, ``approved``, or a git revision); gives a `ProofReport` and a
report folder: per proof record, both PDFs, side-by-side page images, a pixel-difference
overlay, a text diff and the layout checks (text outside the page or printable area, address
outside the envelope window, blank pages, missing glyphs).

    select (one streaming pass) ─► render both versions ─► read PDFs back (PDFium, pypdf)
    ─► diff pixels and text ─► layout checks ─► report.html + report.json

Modules: `select` picks records, `versions` materialises REF, `render` renders a version,
`pages` rasterises and extracts, `diff` compares, `layout` checks, `report` writes, `proof`
runs it all. Needs the ``proof`` extra (pypdfium2, Pillow).
"""

from factory.proofs.proof import ProofOptions, run_proof
from factory.proofs.result import ProofReport, RecordProof
from factory.proofs.versions import VersionTree, resolve_ref, working_tree

__all__ = ["ProofOptions", "ProofReport", "RecordProof", "VersionTree", "resolve_ref",
           "run_proof", "working_tree"]
