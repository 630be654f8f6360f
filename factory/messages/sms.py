"""SMS text: encoding (GSM-7 or UCS-2), length and segments, per 3GPP TS 23.038 / 23.040.

Takes a text; gives `SmsText`: the encoding chosen, the length in the encoding's units and
the number of segments. GSM-7 is chosen when every character is in the GSM 03.38 default
alphabet or its extension table (``gsm0338``, a maintained codec, tells which and how many
septets: extension characters such as € [ ] { } \\ ~ ^ | take an escape plus the character,
so they count twice); otherwise UCS-2, where a character outside the Basic Multilingual Plane
(an emoji) takes two 16-bit units. Limits:

    GSM-7   one message 160 septets, concatenated 153 per segment (7 septets of UDH)
    UCS-2   one message  70 units,   concatenated  67 per segment

An escape sequence and a surrogate pair are never split across two segments (the receiving
phone could not decode half of one), so segments are counted by packing characters, not by
dividing the length.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass
from functools import lru_cache

import gsm0338  # noqa: F401  (registers the "gsm03.38" codec)

GSM7, UCS2 = "GSM-7", "UCS-2"
LIMITS = {GSM7: (160, 153), UCS2: (70, 67)}
_ENCODER = codecs.lookup("gsm03.38")


@lru_cache(maxsize=4096)
def gsm_septets(char: str) -> int:
    """Septets ``char`` takes in GSM-7 (1, or 2 for the extension table); 0 if not in it."""
    try:
        return len(_ENCODER.encode(char)[0])
    except UnicodeEncodeError:
        return 0


def is_gsm7(text: str) -> bool:
    return all(gsm_septets(ch) for ch in text)


def _ucs2_units(char: str) -> int:
    return 2 if ord(char) > 0xFFFF else 1


@dataclass(frozen=True, slots=True)
class SmsText:
    text: str
    encoding: str
    units: int
    segments: int

    @property
    def characters(self) -> int:
        return len(self.text)


def analyse(text: str) -> SmsText:
    """Encoding, length in units and segment count of ``text`` (an empty text: 0 segments)."""
    if is_gsm7(text):
        encoding, weights = GSM7, [gsm_septets(ch) for ch in text]
    else:
        encoding, weights = UCS2, [_ucs2_units(ch) for ch in text]
    units = sum(weights)
    single, multi = LIMITS[encoding]
    if units == 0:
        return SmsText(text, encoding, 0, 0)
    if units <= single:
        return SmsText(text, encoding, units, 1)
    segments, used = 1, 0
    for weight in weights:
        if used + weight > multi:
            segments += 1
            used = 0
        used += weight
    return SmsText(text, encoding, units, segments)


__all__ = ["GSM7", "LIMITS", "UCS2", "SmsText", "analyse", "gsm_septets", "is_gsm7"]
