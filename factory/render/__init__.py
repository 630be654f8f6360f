"""Rendering: a record's HTML to artifacts (PDF today), confined to the allowed folders.

Takes HTML from `factory.templates`; gives `Artifact` values. See `pdf.PdfRenderer` and
`fetcher.SafeFetcher`.
"""

from factory.render.fetcher import SafeFetcher
from factory.render.pdf import PDF_MEDIA_TYPE, PdfRenderer

__all__ = ["PDF_MEDIA_TYPE", "PdfRenderer", "SafeFetcher"]
