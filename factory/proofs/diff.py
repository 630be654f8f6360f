"""What changed between two renderings of one record: pixels per page, and text.

Takes the page images of the two versions (either may lack a page) and their texts; gives a
`PageDiff` per page (how many pixels changed, where, and an overlay image: the new page faded,
every changed pixel in red, the changed region framed) and a unified text diff.

A pixel counts as changed when any of its red, green or blue values differs by more than
``threshold`` (out of 255): both versions are rasterised by the same PDFium at the same
resolution, so identical templates give identical pixels, and the threshold only keeps
antialiasing noise of sub-pixel shifts from counting as a colour change.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from PIL import Image, ImageChops, ImageDraw

THRESHOLD = 24
CHANGED = (230, 0, 60)


@dataclass(frozen=True, slots=True)
class PageDiff:
    """One page compared; ``only_in`` is "old" or "new" when the other version lacks it."""

    number: int
    changed_pixels: int
    total_pixels: int
    box: tuple[int, int, int, int] | None = None
    only_in: str | None = None

    @property
    def changed(self) -> bool:
        return self.changed_pixels > 0 or self.only_in is not None

    @property
    def ratio(self) -> float:
        return self.changed_pixels / self.total_pixels if self.total_pixels else 0.0


def _blank_like(image: Image.Image) -> Image.Image:
    return Image.new("RGB", image.size, "white")


def _same_size(old: Image.Image, new: Image.Image) -> tuple[Image.Image, Image.Image]:
    if old.size == new.size:
        return old, new
    size = (max(old.width, new.width), max(old.height, new.height))
    padded = []
    for image in (old, new):
        canvas = Image.new("RGB", size, "white")
        canvas.paste(image, (0, 0))
        padded.append(canvas)
    return padded[0], padded[1]


def changed_mask(old: Image.Image, new: Image.Image, threshold: int = THRESHOLD) -> Image.Image:
    """A mode-"1"-like L image: 255 where a pixel changed by more than ``threshold``."""
    red, green, blue = ImageChops.difference(old.convert("RGB"), new.convert("RGB")).split()
    strongest = ImageChops.lighter(ImageChops.lighter(red, green), blue)
    return strongest.point(lambda value: 255 if value > threshold else 0)


def diff_page(number: int, old: Image.Image | None, new: Image.Image | None,
              threshold: int = THRESHOLD) -> tuple[PageDiff, Image.Image]:
    """Compare one page of both versions; give the diff and its overlay image."""
    if old is None and new is None:
        raise ValueError("diff_page needs at least one image")
    only_in = "new" if old is None else "old" if new is None else None
    old = old if old is not None else _blank_like(new)  # type: ignore[arg-type]
    new = new if new is not None else _blank_like(old)
    old, new = _same_size(old, new)
    mask = changed_mask(old, new, threshold)
    changed = mask.histogram()[255]
    box = mask.getbbox()
    overlay = _overlay(new if only_in != "old" else old, mask, box)
    return PageDiff(number, changed, old.width * old.height, box, only_in), overlay


def _overlay(base: Image.Image, mask: Image.Image, box: tuple[int, int, int, int] | None
             ) -> Image.Image:
    faded = Image.blend(base.convert("L").convert("RGB"), _blank_like(base), 0.7)
    faded.paste(Image.new("RGB", base.size, CHANGED), (0, 0), mask)
    if box is not None:
        left, top, right, bottom = box
        ImageDraw.Draw(faded).rectangle((left - 4, top - 4, right + 3, bottom + 3),
                                        outline=CHANGED, width=2)
    return faded


def text_diff(old: str, new: str, old_label: str = "old", new_label: str = "new",
              context: int = 2) -> list[str]:
    """A unified diff of two texts, line by line; empty when they are equal."""
    if old == new:
        return []
    return [line.rstrip("\n") for line in difflib.unified_diff(
        old.splitlines(), new.splitlines(), old_label, new_label, n=context, lineterm="")]
