"""The formal salutation of a letter, per locale: "Vážený pane Černý," not "Dobrý den, Petr Černý,".

Takes a locale, the customer's name, the form of address from the record (``salutation``:
``mr`` or ``ms``; a ``surname`` field when the surname is not the name's last word); gives the
greeting line with its punctuation. The surname is put in the case each language addresses
people in: the vocative in Czech (the `vokativ` library: "pane Nováku", "pane Svobodo") and
Ukrainian (`shevchenko`, a port of shevchenko.js: "пане Шевченку"); Slovak, Bulgarian and
English address people in the nominative ("pán Horváth", "господин Иванов", "Mr Smith"), the
Bulgarian title itself in its vocative ("госпожо"). When the form of address is unknown, or the
surname cannot be formed, the customary neutral formal greeting is used ("Vážená paní, vážený
pane,"). These frames are grammar, not vocabulary, so they live here rather than in the .po
catalogues: a translator cannot give a frame the case of its surname.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

#: locale -> (masculine frame, feminine frame, neutral greeting)
FRAMES: dict[str, tuple[str, str, str]] = {
    "cs": ("Vážený pane {surname},", "Vážená paní {surname},", "Vážená paní, vážený pane,"),
    "sk": ("Vážený pán {surname},", "Vážená pani {surname},", "Vážená pani, vážený pán,"),
    "uk": ("Шановний пане {surname}!", "Шановна пані {surname}!", "Шановний клієнте!"),
    "bg": ("Уважаеми господин {surname},", "Уважаема госпожо {surname},",
           "Уважаеми клиенте,"),
    "en": ("Dear Mr {surname},", "Dear Ms {surname},", "Dear Sir or Madam,"),
}

#: Values of the record's ``salutation`` field.
FORMS = {"mr": 0, "ms": 1}


def _restore_case(original: str, declined: str) -> str:
    """`vokativ` answers in lower case: give each hyphenated part its capital back."""
    parts = declined.split("-")
    originals = original.split("-")
    if len(parts) != len(originals):
        return declined
    return "-".join(
        part[:1].upper() + part[1:] if source[:1].isupper() else part
        for part, source in zip(parts, originals, strict=True))


def _czech(surname: str, feminine: bool) -> str:
    from vokativ import vokativ

    return _restore_case(surname, vokativ(surname, woman=feminine, last_name=True))


def _ukrainian(surname: str, feminine: bool) -> str:
    from shevchenko import GrammaticalGender, in_vocative

    gender = GrammaticalGender.FEMININE if feminine else GrammaticalGender.MASCULINE
    return str(in_vocative({"gender": gender, "familyName": surname})["familyName"])


_VOCATIVE: dict[str, Callable[[str, bool], str]] = {"cs": _czech, "uk": _ukrainian}


def surname_of(name: str, surname: str | None = None) -> str | None:
    """The surname given, else the last word of the name (``Petr Černý`` -> ``Černý``)."""
    if surname and surname.strip():
        return surname.strip()
    words = (name or "").split()
    return words[-1] if len(words) >= 2 else None


def salutation(locale: str, name: str, form: str | None, surname: str | None = None) -> str:
    """The greeting line for ``locale`` (``en`` for an unknown one)."""
    language = locale.split("_")[0]
    masculine, feminine, neutral = FRAMES.get(language, FRAMES["en"])
    index = FORMS.get((form or "").strip().lower())
    family = surname_of(name, surname)
    if index is None or family is None:
        return neutral
    if language in _VOCATIVE:
        try:
            family = _VOCATIVE[language](family, index == 1)
        except (ValueError, KeyError, IndexError, TypeError):
            return neutral  # a name the library cannot decline: never a wrong form
    if not family.strip():
        return neutral
    return (masculine, feminine)[index].format(surname=family)


def record_salutation(locale: str, record: Mapping[str, Any]) -> str:
    """`salutation` from a record's ``name``, ``salutation`` and optional ``surname``."""
    return salutation(locale, str(record.get("name") or ""), record.get("salutation"),
                      record.get("surname"))
