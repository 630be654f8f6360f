"""Layout checks on one rendered document, each finding named by check and page.

Takes the pages read back from the PDF (`PageContent`), the HTML the PDF was rendered from,
the brand and the set of code points its fonts cover; gives `Finding` values:

``outside-page``
    a drawn character whose box leaves the page.
``outside-printable``
    a drawn character closer to the paper's edge than the brand's ``printable_margin``.
``address-window``
    the recipient block is not wholly inside the brand's ``[address_window]`` on page 1. The
    block is found without trusting positions in the HTML: the text of the document's
    ``<address class="recipient">`` element (the shared ``postal_address`` macro) is searched
    for in page 1's text layer, case- and whitespace-insensitively, and the PDF boxes of exactly
    those characters are compared with the window (0.5 mm tolerance). A template that drops the
    element, or whose address text is not on page 1, fails the check too. Brands without an
    ``[address_window]`` (no window envelope) skip it.
``blank-page``
    a page with no ink at all, or (in documents of two pages or more) a page whose every text
    line is a running line (one found on every page, digits ignored: footers, page numbers)
    and which has no ink outside those lines.
``missing-glyph``
    a drawn character that none of the brand's fonts has. WeasyPrint (through fontconfig)
    silently draws such characters with a system font, or as a blank box; either way the
    document no longer looks like the brand and may render differently on another machine.
    The finding lists the characters and the fonts that actually drew them (read from the PDF).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

from fontTools.ttLib import TTFont, TTLibError
from PIL import ImageDraw

from factory.errors import ConfigError
from factory.proofs.pages import POINTS_PER_MM, Glyph, PageContent
from factory.templates.brand import Brand, WindowZone

CHECKS = {
    "outside-page": "text outside the page",
    "outside-printable": "text outside the printable area",
    "address-window": "address block outside the envelope window",
    "blank-page": "blank page",
    "missing-glyph": "missing glyphs",
}
WINDOW_TOLERANCE_MM = 0.5
PAGE_TOLERANCE_PT = 0.5
INK_LEVEL = 235           # luminance below this is ink
INK_PIXELS = 20           # fewer ink pixels than this is a blank page
TEXT_PAD_MM = 1.5         # around running text when looking for other ink
_SPACES = {"\u00a0", "\u2007", "\u202f"}
_IGNORED = {"\u00ad"}     # soft hyphen


@dataclass(frozen=True, slots=True)
class Finding:
    check: str
    page: int | None
    message: str

    @property
    def title(self) -> str:
        return CHECKS.get(self.check, self.check)


def font_coverage(brand: Brand) -> frozenset[int] | None:
    """Every code point some font of the brand maps to a glyph; None if it bundles none."""
    if not brand.fonts:
        return None
    covered: set[int] = set()
    for face in brand.fonts:
        path = Path(brand.folder) / face.file
        try:
            font = TTFont(path, lazy=True, fontNumber=0)
            try:
                covered.update(font.getBestCmap() or {})
            finally:
                font.close()
        except (OSError, TTLibError, KeyError, AssertionError) as exc:
            raise ConfigError(f"{path}: cannot read the font's character map: {exc}") from None
    return frozenset(covered)


class _Recipient(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.inside = False
        self.done = False
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.done:
            return
        classes = " ".join(value or "" for name, value in attrs if name == "class").split()
        if tag == "address" and "recipient" in classes and not self.inside:
            self.inside = True
        elif self.inside and tag == "br":
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if self.inside and tag == "address":
            self.inside = False
            self.done = True

    def handle_data(self, data: str) -> None:
        if self.inside:
            self.parts.append(data)


def recipient_text(html: str) -> str | None:
    """The text of the first ``<address class="recipient">``, or None if there is none."""
    parser = _Recipient()
    parser.feed(html)
    parser.close()
    if not (parser.done or parser.inside):
        return None
    return " ".join("".join(parser.parts).split())


def _normalise(chars: Iterable[str]) -> tuple[str, list[int]]:
    """Lower-case, whitespace collapsed; and for each output character its input index."""
    out: list[str] = []
    where: list[int] = []
    for index, char in enumerate(chars):
        if char in _IGNORED:
            continue
        if char.isspace() or char in _SPACES:
            if out and out[-1] != " ":
                out.append(" ")
                where.append(index)
            continue
        for lower in char.lower():
            out.append(lower)
            where.append(index)
    while out and out[-1] == " ":
        out.pop()
        where.pop()
    return "".join(out), where


def _drawn(glyph: Glyph) -> bool:
    return not glyph.generated and unicodedata.category(glyph.char)[0] not in "ZC"


def _snippet(page: PageContent, glyphs: list[Glyph], limit: int = 60) -> str:
    """The text of ``glyphs`` (drawn characters of ``page``), words separated by spaces."""
    wanted = {id(g) for g in glyphs}
    parts: list[str] = []
    gap = False
    for glyph in page.glyphs:
        if id(glyph) in wanted:
            if gap and parts:
                parts.append(" ")
            parts.append(glyph.char)
            gap = False
        else:
            gap = True
    text = "".join(parts)
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _extent_mm(page: PageContent, glyphs: list[Glyph]) -> str:
    left = min(g.left for g in glyphs)
    right = max(g.right for g in glyphs)
    top = max(g.top for g in glyphs)
    bottom = min(g.bottom for g in glyphs)
    x0, y0 = page.to_mm(left, top)
    x1, y1 = page.to_mm(right, bottom)
    return f"x {x0:.1f}–{x1:.1f} mm, y {y0:.1f}–{y1:.1f} mm from the top-left corner"


def check_bounds(page: PageContent, margin_mm: float) -> list[Finding]:
    outside, unprintable = [], []
    margin = margin_mm * POINTS_PER_MM
    tol = PAGE_TOLERANCE_PT
    for glyph in page.glyphs:
        if not _drawn(glyph):
            continue
        if glyph.left < -tol or glyph.bottom < -tol or glyph.right > page.width + tol \
                or glyph.top > page.height + tol:
            outside.append(glyph)
        elif glyph.left < margin - tol or glyph.bottom < margin - tol \
                or glyph.right > page.width - margin + tol \
                or glyph.top > page.height - margin + tol:
            unprintable.append(glyph)
    findings = []
    if outside:
        findings.append(Finding("outside-page", page.number,
                                f"{len(outside)} character(s) outside the page:"
                                f" {_snippet(page, outside)!r} at {_extent_mm(page, outside)}"))
    if unprintable:
        findings.append(Finding(
            "outside-printable", page.number,
            f"{len(unprintable)} character(s) within {margin_mm:g} mm of the paper's edge:"
            f" {_snippet(page, unprintable)!r} at {_extent_mm(page, unprintable)}"))
    return findings


def check_address(pages: list[PageContent], html: str, brand: Brand) -> list[Finding]:
    window = brand.address_window
    if window is None or not pages:
        return []
    wanted = recipient_text(html)
    if not wanted:
        return [Finding("address-window", 1, 'the document has no <address class="recipient">'
                        " block, so nothing shows through the envelope window")]
    needle, _ = _normalise(wanted)
    first = pages[0]
    haystack, where = _normalise(g.char for g in first.glyphs)
    starts = []
    start = haystack.find(needle)
    while start >= 0:
        starts.append(start)
        start = haystack.find(needle, start + 1)
    if not starts:
        elsewhere = [p.number for p in pages[1:]
                     if needle in _normalise(g.char for g in p.glyphs)[0]]
        where_else = f" (it is on page {elsewhere[0]})" if elsewhere else ""
        return [Finding("address-window", 1, f"the recipient address {wanted!r} is not on"
                        f" page 1{where_else}")]
    worst: tuple[list[Glyph], list[Glyph]] | None = None
    for start in starts:  # the address may be printed twice; one copy in the window will do
        indexes = sorted({where[i] for i in range(start, start + len(needle))})
        glyphs = [first.glyphs[i] for i in indexes if _drawn(first.glyphs[i])]
        outside = [g for g in glyphs if not _inside(first, g, window)]
        if not outside:
            return []
        worst = worst or (glyphs, outside)
    assert worst is not None
    glyphs, outside = worst
    return [Finding(
        "address-window", 1,
        f"{len(outside)} of {len(glyphs)} address character(s) outside the envelope window"
        f" (x {window.left:g}–{window.left + window.width:g} mm, y {window.top:g}–"
        f"{window.top + window.height:g} mm): {_snippet(first, outside)!r};"
        f" the address spans {_extent_mm(first, glyphs)}")]


def _inside(page: PageContent, glyph: Glyph, window: WindowZone) -> bool:
    x0, y0 = page.to_mm(glyph.left, glyph.top)
    x1, y1 = page.to_mm(glyph.right, glyph.bottom)
    tol = WINDOW_TOLERANCE_MM
    return (x0 >= window.left - tol and y0 >= window.top - tol
            and x1 <= window.left + window.width + tol
            and y1 <= window.top + window.height + tol)


def _running_key(line: str) -> str:
    return "".join("#" if ch.isdigit() else ch for ch in " ".join(line.lower().split()))


def _ink_pixels(page: PageContent, covered: list[Glyph]) -> int:
    gray = page.image.convert("L")
    ink = gray.point(lambda value: 255 if value < INK_LEVEL else 0)
    if covered:
        scale = page.image.width / page.width
        pad = TEXT_PAD_MM * POINTS_PER_MM
        draw = ImageDraw.Draw(ink)
        for glyph in covered:
            draw.rectangle(((glyph.left - pad) * scale, (page.height - glyph.top - pad) * scale,
                            (glyph.right + pad) * scale, (page.height - glyph.bottom + pad)
                            * scale), fill=0)
    return ink.histogram()[255]


def check_blank(pages: list[PageContent]) -> list[Finding]:
    findings = []
    running: set[str] | None = None
    if len(pages) >= 2:
        for page in pages:
            keys = {_running_key(line) for line in page.lines()}
            running = keys if running is None else running & keys
    for page in pages:
        drawn = [g for g in page.glyphs if _drawn(g)]
        if not drawn:
            if _ink_pixels(page, []) < INK_PIXELS:
                findings.append(Finding("blank-page", page.number,
                                        f"page {page.number} is empty"))
            continue
        if running is None:
            continue
        keys = {_running_key(line) for line in page.lines()}
        if keys <= running and _ink_pixels(page, drawn) < INK_PIXELS:
            findings.append(Finding(
                "blank-page", page.number,
                f"page {page.number} holds nothing but the lines repeated on every page"
                f" ({_snippet(page, drawn, 80)!r})"))
    return findings


def check_glyphs(page: PageContent, coverage: frozenset[int] | None, family: str
                 ) -> list[Finding]:
    if coverage is None:
        return []
    missing: dict[str, None] = {}
    fonts: dict[str, None] = {}
    for glyph in page.glyphs:
        if _drawn(glyph) and ord(glyph.char) not in coverage:
            missing.setdefault(glyph.char)
            fonts.setdefault(glyph.font or "no font")
    if not missing:
        return []
    chars = "".join(missing)
    shown = chars if len(chars) <= 40 else chars[:39] + "…"
    codes = ", ".join(f"U+{ord(c):04X}" for c in list(missing)[:6])
    return [Finding(
        "missing-glyph", page.number,
        f"{len(missing)} character(s) the brand fonts ({family}) have no glyph for: {shown!r}"
        f" ({codes}{', …' if len(missing) > 6 else ''}); drawn with {', '.join(fonts)}")]


def check_layout(pages: list[PageContent], html: str, brand: Brand,
                 coverage: frozenset[int] | None) -> list[Finding]:
    """Every check on one document, in page order within each check."""
    findings: list[Finding] = []
    for page in pages:
        findings.extend(check_bounds(page, brand.printable_margin))
    findings.extend(check_address(pages, html, brand))
    findings.extend(check_blank(pages))
    for page in pages:
        findings.extend(check_glyphs(page, coverage, brand.font_family))
    return findings


__all__ = ["CHECKS", "Finding", "check_layout", "font_coverage", "recipient_text"]

