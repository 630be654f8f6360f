"""HTML to PDF with WeasyPrint, warm: fonts and stylesheets parsed once per process.

Takes rendered HTML, its base URL, the allowed folders and the CSS sources of the template set;
gives an `Artifact` (PDF bytes, SHA-256, page count). One `PdfRenderer` lives for the whole life
of a worker process: the `FontConfiguration`, the parsed stylesheets (brand fonts included) and
the image cache are built in ``__init__`` and reused for every document. Every resource goes
through `SafeFetcher`. Options: PDF/A-3b (archive), PDF/A-3a or PDF/UA-1 (tagged, accessible).
"""

from __future__ import annotations

import logging
from typing import Any

from weasyprint import CSS, HTML
from weasyprint.text.fonts import FontConfiguration
from weasyprint.urls import FatalURLFetchingError

from factory.errors import RenderError, ResourceBlockedError
from factory.models import Artifact
from factory.render.fetcher import BlockedResource, SafeFetcher

PDF_MEDIA_TYPE = "application/pdf"

# WeasyPrint logs every CSS property it ignores at WARNING; keep that out of batch output.
logging.getLogger("weasyprint").setLevel(logging.ERROR)


class PdfRenderer:
    """A warm WeasyPrint renderer for one template set."""

    def __init__(
        self,
        *,
        base_url: str,
        allowed: tuple[Any, ...],
        stylesheets: list[tuple[str, str]],
        pdf_variant: str | None = "pdf/a-3b",
        tagged: bool = True,
    ) -> None:
        self.base_url = base_url
        self.fetcher = SafeFetcher(allowed)
        self.font_config = FontConfiguration()
        self.image_cache: dict[str, Any] = {}
        self.options: dict[str, Any] = {
            "pdf_variant": None if pdf_variant in (None, "none") else pdf_variant,
            "pdf_tags": tagged,
            "custom_metadata": True,
            "cache": self.image_cache,
        }
        try:
            self.stylesheets = [
                CSS(string=text, base_url=url, url_fetcher=self.fetcher,
                    font_config=self.font_config)
                for text, url in stylesheets
            ]
        except FatalURLFetchingError as exc:
            raise ResourceBlockedError(f"a stylesheet of the template set: {exc}") from None

    def render(self, html: str, document_id: str) -> Artifact:
        """Lay out ``html`` and write the PDF; raise `RenderError` on any failure."""
        try:
            document = HTML(string=html, base_url=self.base_url,
                            url_fetcher=self.fetcher).render(
                stylesheets=self.stylesheets, font_config=self.font_config, **self.options)
            pages = len(document.pages)
            data = document.write_pdf(pdf_identifier=document_id.encode("ascii"),
                                      **self.options)
        except BlockedResource as exc:
            raise ResourceBlockedError(str(exc)) from None
        except FatalURLFetchingError as exc:
            raise RenderError(f"{exc}") from None
        except (ValueError, TypeError, OSError, RecursionError, AssertionError) as exc:
            raise RenderError(f"WeasyPrint failed: {type(exc).__name__}: {exc}") from None
        return Artifact.of("pdf", PDF_MEDIA_TYPE, "pdf", data, page_count=pages)
