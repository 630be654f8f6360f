"""Inserter control marks: a 2D DataMatrix and optional OMR dashes, as PDF drawing operators.

Takes the sheet's place in the stream (batch id, envelope sequence, sheet number, sheets in
the envelope) and the ``[print.marks]`` / ``[print.omr]`` options; gives the content-stream
bytes that draw the marks on the front side of a sheet, in vector (crisp at any resolution).

DataMatrix (ECC 200, encoded by libdmtx through `pylibdmtx`) payload, fixed width so an
inserter can also cut fields by position::

    <batch id>|<envelope sequence, 6 digits>|<sheet, 2 digits>|<sheets, 2 digits>
    3FA2C1-001|000042|01|03

Under the symbol, in 5 pt Helvetica, the same for people: ``3FA2C1-001`` / ``E000042 1/3``.

OMR (one track of horizontal dashes, top to bottom, ``pitch`` mm apart), 7 positions:
0 start (always), 1 end of collation (last sheet of the envelope: insert now), 2-4 sheet
sequence check (sheet number mod 8, least significant bit first), 5 parity (makes the number of
dashes even), 6 stop (always).

`check_clear` refuses positions that overlap the envelope's address window.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

from factory.errors import ConfigError
from factory.jobs.print import MarksSpec, OmrSpec

MM = 72 / 25.4
QUIET = 2  # modules of white around the symbol
FONT = "/DFMk"
TEXT_SIZE = 5.0
OMR_POSITIONS = 7


@dataclass(frozen=True, slots=True)
class SheetMark:
    batch_id: str
    envelope: int
    sheet: int
    sheets: int

    @property
    def payload(self) -> str:
        return f"{self.batch_id}|{self.envelope:06d}|{self.sheet:02d}|{self.sheets:02d}"

    @property
    def label(self) -> tuple[str, str]:
        return self.batch_id, f"E{self.envelope:06d} {self.sheet}/{self.sheets}"


def datamatrix(text: str) -> list[list[bool]]:
    """The module matrix (rows top to bottom, True = dark) of a square DataMatrix."""
    with warnings.catch_warnings():  # pylibdmtx compares versions with distutils
        warnings.simplefilter("ignore", DeprecationWarning)
        from pylibdmtx.pylibdmtx import encode

        encoded = encode(text.encode("ascii"), size="SquareAuto")
    width: int = encoded.width
    height: int = encoded.height
    pixels: bytes = encoded.pixels  # untyped library: the raw RGB(A) bytes, row by row
    bpp: int = encoded.bpp // 8

    def dark(x: int, y: int) -> bool:
        return pixels[(y * width + x) * bpp] < 128

    # ECC 200's finder: the left column and the bottom row are solid, the top-left module is
    # dark. The first dark pixel (row by row) is the symbol's top-left corner; the solid left
    # column gives its height, the first dark run of the top row the module size.
    first = next(i for i in range(0, width * height) if dark(i % width, i // width))
    left, top = first % width, first // width
    size_px = 0
    while top + size_px < height and dark(left, top + size_px):
        size_px += 1
    module = 0
    while dark(left + module, top):
        module += 1
    count = size_px // module
    return [[dark(left + c * module + module // 2, top + r * module + module // 2)
             for c in range(count)] for r in range(count)]


def datamatrix_box(spec: MarksSpec, modules: int) -> tuple[float, float, float, float]:
    """(left, top, width, height) in mm of the symbol with its quiet zone and label."""
    size = (modules + 2 * QUIET) * spec.module
    label = 2 * TEXT_SIZE * 1.2 / MM if spec.text else 0.0
    return spec.x, spec.y, max(size, 12.0 if spec.text else 0.0), size + label


def omr_box(omr: OmrSpec) -> tuple[float, float, float, float]:
    return omr.x, omr.y, omr.length, (OMR_POSITIONS - 1) * omr.pitch + omr.thickness


def omr_bits(sheet: int, sheets: int) -> list[bool]:
    bits = [True, sheet == sheets] + [bool((sheet % 8) >> i & 1) for i in range(3)]
    parity = (sum(bits) + 1) % 2 == 1  # a dash here if the count (with stop) would be odd
    return [*bits, parity, True]


def _overlap(a: tuple[float, float, float, float], b: tuple[float, float, float, float]
             ) -> bool:
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] \
        and b[1] < a[1] + a[3]


def check_clear(spec: MarksSpec, omr: OmrSpec,
                window: tuple[float, float, float, float] | None,
                page: tuple[float, float] = (210.0, 297.0), modules: int = 22) -> None:
    """`ConfigError` when a mark would show in the address window or leave the page."""
    boxes = []
    if spec.datamatrix:
        boxes.append(("print.marks", datamatrix_box(spec, modules)))
    if omr.enabled:
        boxes.append(("print.omr", omr_box(omr)))
    for name, box in boxes:
        if window is not None and _overlap(box, window):
            raise ConfigError(
                f"{name}: the mark at x={box[0]} mm, y={box[1]} mm ({box[2]:.1f} x"
                f" {box[3]:.1f} mm) overlaps the brand's address window (left {window[0]},"
                f" top {window[1]}, {window[2]} x {window[3]} mm); move it")
        if box[0] + box[2] > page[0] or box[1] + box[3] > page[1]:
            raise ConfigError(f"{name}: the mark at x={box[0]} mm, y={box[1]} mm does not fit"
                              f" on a {page[0]:.0f} x {page[1]:.0f} mm page")


def _num(value: float) -> str:
    return f"{value:.3f}".rstrip("0").rstrip(".")


def mark_stream(mark: SheetMark, spec: MarksSpec, omr: OmrSpec, page_height: float) -> bytes:
    """PDF operators drawing ``mark`` on a page ``page_height`` points high."""
    ops: list[str] = ["q"]
    if spec.datamatrix:
        matrix = datamatrix(mark.payload)
        module = spec.module * MM
        count = len(matrix)
        x0 = spec.x * MM
        y_top = page_height - spec.y * MM
        side = (count + 2 * QUIET) * module
        ops.append(f"1 g {_num(x0)} {_num(y_top - side)} {_num(side)} {_num(side)} re f 0 g")
        left, top = x0 + QUIET * module, y_top - QUIET * module
        for r, row in enumerate(matrix):
            c = 0
            while c < count:
                if not row[c]:
                    c += 1
                    continue
                start = c
                while c < count and row[c]:
                    c += 1
                ops.append(f"{_num(left + start * module)} {_num(top - (r + 1) * module)}"
                           f" {_num((c - start) * module)} {_num(module)} re")
        ops.append("f")
        if spec.text:
            line1, line2 = mark.label
            base = y_top - side - TEXT_SIZE
            ops.append(f"BT {FONT} {_num(TEXT_SIZE)} Tf {_num(x0)} {_num(base)} Td"
                       f" ({line1}) Tj 0 {_num(-TEXT_SIZE * 1.2)} Td ({line2}) Tj ET")
    if omr.enabled:
        ops.append("0 g")
        x, length = omr.x * MM, omr.length * MM
        thick = omr.thickness * MM
        for position, on in enumerate(omr_bits(mark.sheet, mark.sheets)):
            if on:
                centre = page_height - (omr.y + position * omr.pitch) * MM
                ops.append(f"{_num(x)} {_num(centre - thick / 2)} {_num(length)}"
                           f" {_num(thick)} re")
        ops.append("f")
    ops.append("Q")
    return ("\n".join(ops) + "\n").encode("ascii")
