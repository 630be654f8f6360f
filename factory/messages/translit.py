"""Transliteration of a text to the GSM 03.38 alphabet, to send an SMS in GSM-7 not UCS-2.

Takes a text and the record's locale; gives a text every character of which is in GSM-7.
Cyrillic follows each country's official romanisation, which no maintained library
implements as the law writes it (unidecode and cyrtranslit follow other schemes; measured:
unidecode gives "Iurii" and "B'lgariia" where the national systems give "Yurii" and
"Balgaria"):

- ``uk``: the national system of Ukraine (Cabinet of Ministers resolution No. 55 of
  27 January 2010): є ї й ю я are ye yi y yu ya at the start of a word and ie i i iu ia
  elsewhere; зг is zgh; the soft sign and the apostrophe are dropped.
- ``bg``: the Streamlined System of Bulgaria (Transliteration Act, 2009): щ sht, ъ a, ь y,
  ю yu, я ya, ия at the end of a word is ia (София → Sofia), and the name of the country is
  the law's own exception (България → Bulgaria).

Latin letters with diacritics (Czech and Slovak: č ř ž ů ľ ô ä...) lose them, as Czech and
Slovak texts are customarily written in an SMS ("bez diakritiky"), even where GSM-7 happens to
have the accented letter. Whatever else is outside GSM-7 (typographic quotes, dashes, no-break
spaces, ellipses, Cyrillic in other locales) goes through ``unidecode``; a character with no
GSM-7 rendering at all (an emoji) is dropped.
"""

from __future__ import annotations

import re
import unicodedata

from unidecode import unidecode

from factory.messages.sms import gsm_septets

_UK = {
    "а": "a", "б": "b", "в": "v", "г": "h", "ґ": "g", "д": "d", "е": "e", "є": "ie",
    "ж": "zh", "з": "z", "и": "y", "і": "i", "ї": "i", "й": "i", "к": "k", "л": "l",
    "м": "m", "н": "n", "о": "o", "п": "p", "р": "r", "с": "s", "т": "t", "у": "u",
    "ф": "f", "х": "kh", "ц": "ts", "ч": "ch", "ш": "sh", "щ": "shch", "ь": "", "ю": "iu",
    "я": "ia",
}
_UK_INITIAL = {"є": "ye", "ї": "yi", "й": "y", "ю": "yu", "я": "ya"}
_UK_APOSTROPHES = {"'", "’", "ʼ", "`"}

#: Typography unidecode renders poorly ("„" would become ",,").
_PUNCTUATION = {"„": '"', "“": '"', "”": '"', "«": '"', "»": '"', "‚": "'", "‘": "'",
                "’": "'", "‹": "'", "›": "'"}

_BG = {
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ж": "zh", "з": "z",
    "и": "i", "й": "y", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o", "п": "p",
    "р": "r", "с": "s", "т": "t", "у": "u", "ф": "f", "х": "h", "ц": "ts", "ч": "ch",
    "ш": "sh", "щ": "sht", "ъ": "a", "ь": "y", "ю": "yu", "я": "ya",
}


_BULGARIA = re.compile(r"\bбългария\b", re.IGNORECASE)


def _is_cyrillic(char: str) -> bool:
    return "\u0400" <= char <= "\u04ff"


def _cased(source: str, latin: str, text: str, index: int) -> str:
    """Give ``latin`` the case of ``source``: ЩО → SHCHO, Що → Shcho."""
    if not source.isupper() or not latin:
        return latin
    neighbours = [text[i] for i in (index - 1, index + 1) if 0 <= i < len(text)
                  and text[i].isalpha()]
    if neighbours and all(ch.isupper() for ch in neighbours):
        return latin.upper()
    return latin[0].upper() + latin[1:]


def _ukrainian(text: str) -> str:
    out = []
    for index, char in enumerate(text):
        lower = char.lower()
        previous = text[index - 1] if index else ""
        if char in _UK_APOSTROPHES and _is_cyrillic(previous) and \
                index + 1 < len(text) and _is_cyrillic(text[index + 1]):
            continue
        if lower not in _UK:
            out.append(char)
            continue
        initial = not (previous.isalpha() or previous in _UK_APOSTROPHES)
        latin = _UK_INITIAL[lower] if initial and lower in _UK_INITIAL else _UK[lower]
        if lower == "г" and previous.lower() == "з":
            latin = "gh"
        out.append(_cased(char, latin, text, index))
    return "".join(out)


def _bulgarian(text: str) -> str:
    text = _BULGARIA.sub(lambda m: "BULGARIA" if m.group(0).isupper() else
                         "Bulgaria" if m.group(0)[0].isupper() else "bulgaria", text)
    out = []
    for index, char in enumerate(text):
        lower = char.lower()
        if lower not in _BG:
            out.append(char)
            continue
        latin = _BG[lower]
        following = text[index + 1] if index + 1 < len(text) else ""
        if lower == "я" and text[index - 1:index].lower() == "и" and not following.isalpha():
            latin = "a"
        out.append(_cased(char, latin, text, index))
    return "".join(out)


def _to_gsm(char: str) -> str:
    if char.isascii() and gsm_septets(char):
        return char
    if char in _PUNCTUATION:
        return _PUNCTUATION[char]
    if not unicodedata.category(char).startswith("L") and gsm_septets(char):
        return char  # € £ ¥ § ¤ and the like: GSM-7 has them
    stripped = "".join(c for c in unicodedata.normalize("NFD", char)
                       if not unicodedata.combining(c))
    if stripped and all(c.isascii() and gsm_septets(c) for c in stripped):
        return stripped
    return "".join(c for c in unidecode(char) if gsm_septets(c))


def to_gsm7(text: str, locale: str) -> str:
    """``text`` in GSM-7 characters only, romanised by the rules of ``locale``."""
    language = locale.split("_", 1)[0].lower()
    if language == "uk":
        text = _ukrainian(text)
    elif language == "bg":
        text = _bulgarian(text)
    return "".join(_to_gsm(char) for char in text).strip()


__all__ = ["to_gsm7"]
