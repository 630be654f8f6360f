"""Readable quantities for invoice lines: UN/ECE Recommendation 20 unit codes in words.

Takes a quantity, its unit code (BT-130: ``MON``, ``HUR``, ``DAY``, ``KGM``, ``MTR``, ``LTR``,
``C62``) and a locale; gives the quantity with the unit as CLDR writes it in that language
(``3 měs.``, ``1 h``, ``2 dny``, via Babel's unit data), every decimal of the quantity kept.
``C62`` ("one", a piece) has no CLDR unit: it gives None and the template prints the
translated piece abbreviation instead.
"""

from __future__ import annotations

from decimal import Decimal

from babel.units import format_unit

#: UN/ECE Rec. 20 code -> CLDR unit
CLDR_UNITS = {
    "MON": "duration-month",
    "HUR": "duration-hour",
    "DAY": "duration-day",
    "KGM": "mass-kilogram",
    "MTR": "length-meter",
    "LTR": "volume-liter",
}


def quantity_text(quantity: Decimal, unit: str, locale: str) -> str | None:
    """``quantity`` with its unit in ``locale``'s words, or None for a unit CLDR lacks."""
    cldr = CLDR_UNITS.get(unit)
    if cldr is None:
        return None
    value = quantity.normalize()
    decimals = max(0, -int(value.as_tuple().exponent))
    pattern = "#,##0" + ("." + "#" * decimals if decimals else "")
    return str(format_unit(value, cldr, length="short", format=pattern, locale=locale))
