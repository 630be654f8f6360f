"""Which class turns HTML into a PDF in this process: WeasyPrint's `PdfRenderer`, or a stand-in.

Takes a renderer class (anything built with `PdfRenderer`'s keyword arguments and having its
``render(html, document_id) -> Artifact``); gives `make_pdf_renderer`, which
`factory.pipeline.document.DocumentRenderer` calls once per worker and run (never per record),
and `use_pdf_renderer`, which swaps the class for this process. The product never swaps it:
the seam is for bench/bench_scale.py, whose workers render with a stub returning a fixed small
PDF after a configurable delay, so that one machine can stand in for hundreds of render cores
when measuring the coordinator, the broker and the index (see docs/scale.md).
"""

from __future__ import annotations

from typing import Any

_RENDERER: list[Any] = []


def use_pdf_renderer(renderer: Any | None) -> None:
    """Render with ``renderer`` (a class or factory) in this process; None: WeasyPrint again."""
    _RENDERER.clear()
    if renderer is not None:
        _RENDERER.append(renderer)


def make_pdf_renderer(**options: Any) -> Any:
    """A warm PDF renderer built from ``options`` (`PdfRenderer`'s keyword arguments)."""
    if _RENDERER:
        return _RENDERER[0](**options)
    from factory.render.pdf import PdfRenderer

    return PdfRenderer(**options)


__all__ = ["make_pdf_renderer", "use_pdf_renderer"]
