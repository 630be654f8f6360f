"""A rendered PDF read back: page images, the text, and where every character is drawn.

Takes PDF bytes and a resolution; gives one `PageContent` per page with

- ``image``: the page rasterised by PDFium (pypdfium2), RGB, at ``dpi``;
- ``glyphs``: every character of the page's text layer in content order, with its box in PDF
  points (origin bottom-left, PDFium's tight glyph box), the font that drew it (the PDF font
  name without its subset prefix) and whether PDFium generated it (line breaks and spaces it
  inferred, which nobody drew);
- ``text``: the page text as PDFium extracts it (what the text diff compares).

PDFium errors become `RenderError`.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass, field

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
from PIL import Image

from factory.errors import RenderError

POINTS_PER_MM = 72 / 25.4
_FONT_BUFFER = 256


@dataclass(frozen=True, slots=True)
class Glyph:
    """One character as drawn: box in points from the bottom-left corner of the page."""

    char: str
    left: float
    bottom: float
    right: float
    top: float
    font: str
    generated: bool = False


@dataclass
class PageContent:
    number: int
    width: float
    height: float
    image: Image.Image
    glyphs: list[Glyph] = field(default_factory=list)
    text: str = ""

    def to_mm(self, x: float, y: float) -> tuple[float, float]:
        """A point in PDF points (bottom-left origin) as mm from the top-left corner."""
        return x / POINTS_PER_MM, (self.height - y) / POINTS_PER_MM

    def lines(self) -> list[str]:
        """The page's text lines as PDFium reads them (generated breaks split lines)."""
        text = "".join(g.char for g in self.glyphs)
        return [line.strip() for line in text.replace("\r\n", "\n").split("\n")
                if line.strip()]


def read_pdf(data: bytes, dpi: float = 96) -> list[PageContent]:
    """Every page of ``data``: image, glyphs and text, all read by PDFium in one pass."""
    try:
        document = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        raise RenderError(f"PDFium cannot read the PDF: {exc}") from None
    pages = []
    try:
        for number in range(len(document)):
            page = document[number]
            try:
                width, height = page.get_size()
                image = page.render(scale=dpi / 72).to_pil().convert("RGB")
                textpage = page.get_textpage()
                try:
                    glyphs = _glyphs(textpage)
                    text = textpage.get_text_range().replace("\r\n", "\n")
                finally:
                    textpage.close()
            finally:
                page.close()
            pages.append(PageContent(number + 1, width, height, image, glyphs, text))
    finally:
        document.close()
    return pages


def _glyphs(textpage: pdfium.PdfTextPage) -> list[Glyph]:
    buffer = ctypes.create_string_buffer(_FONT_BUFFER)
    flags = ctypes.c_int()
    glyphs = []
    for index in range(textpage.count_chars()):
        code = pdfium_c.FPDFText_GetUnicode(textpage.raw, index)
        if code in (0, 0xFFFE, 0xFFFF):
            continue
        generated = bool(pdfium_c.FPDFText_IsGenerated(textpage.raw, index))
        left, bottom, right, top = textpage.get_charbox(index)
        size = pdfium_c.FPDFText_GetFontInfo(textpage.raw, index, buffer, _FONT_BUFFER,
                                             ctypes.byref(flags))
        name = buffer.value.decode("utf-8", "replace") if 0 < size <= _FONT_BUFFER else ""
        glyphs.append(Glyph(chr(code), left, bottom, right, top, name.split("+", 1)[-1],
                            generated))
    return glyphs
