"""Rendering: a record's HTML to artifacts (PDF today), confined to the allowed folders.

Takes HTML from `factory.templates`; gives `Artifact` values. See `pdf.PdfRenderer` and
`fetcher.SafeFetcher`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from factory.render.fetcher import SafeFetcher
    from factory.render.pdf import PDF_MEDIA_TYPE, PdfRenderer

#: Names re-exported on first use (PEP 562): importing a submodule that needs no WeasyPrint
#: (`engine`, `seal`, `seal_check`: the coordinator's seal check, `archive verify`) does not
#: import it (~0.5 CPU s with the library look-ups it runs).
_FROM = {"SafeFetcher": "fetcher", "PDF_MEDIA_TYPE": "pdf", "PdfRenderer": "pdf"}


def __getattr__(name: str) -> Any:
    if name in _FROM:
        import importlib

        value = getattr(importlib.import_module(f"factory.render.{_FROM[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["PDF_MEDIA_TYPE", "PdfRenderer", "SafeFetcher"]
