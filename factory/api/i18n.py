"""The web pages in the user's language: cs, sk, uk, bg or en.

Takes a request (``?lang=xx``, then the ``lang`` cookie a switch set, then ``Accept-Language``);
gives the chosen locale, its gettext translation and the Babel-formatted dates and numbers the
page templates show. The texts are gettext ``.po`` catalogues read with Babel, the same format
and the same reader as the documents' (`factory.templates.i18n`): ``factory/api/i18n/<locale>.po``
(English is the source language). The pages' own words and the documents' are kept apart, so
a translator of a letter never sees "Log out".
"""

from __future__ import annotations

import gettext
import io
import re
from contextvars import ContextVar
from datetime import UTC, date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from babel import negotiate_locale
from babel.dates import format_date, format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.support import Translations

LOCALES = ("en", "cs", "sk", "uk", "bg")
DEFAULT = "en"
COOKIE = "lang"
CATALOGS = Path(__file__).parent / "i18n"
#: Babel locale of each page language (English pages are European: day-month, en_GB).
FORMAT = {"en": "en_GB", "cs": "cs", "sk": "sk", "uk": "uk", "bg": "bg"}
#: The names of the languages in themselves, for the switch.
NAMES = {"en": "English", "cs": "Čeština", "sk": "Slovenčina", "uk": "Українська",
         "bg": "Български"}

_current: ContextVar[str] = ContextVar("docfactory_page_locale", default=DEFAULT)
_QUALITY = re.compile(r"^\s*([A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*|\*)\s*(?:;\s*q\s*=\s*([0-9.]+))?")


@lru_cache(maxsize=len(LOCALES))
def translations(locale: str) -> gettext.NullTranslations:
    path = CATALOGS / f"{locale}.po"
    if locale == DEFAULT or not path.is_file():
        return gettext.NullTranslations()
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=locale, abort_invalid=True)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(fp=buffer)


def accepted(header: str | None) -> list[str]:
    """``Accept-Language`` as language tags, most wanted first (RFC 9110 q-values)."""
    ranked = []
    for position, item in enumerate((header or "").split(",")):
        match = _QUALITY.match(item)
        if not match or match.group(1) == "*":
            continue
        try:
            quality = float(match.group(2)) if match.group(2) else 1.0
        except ValueError:
            continue
        if quality > 0:
            ranked.append((-quality, position, match.group(1)))
    return [tag for _, _, tag in sorted(ranked)]


def choose(query: str | None, cookie: str | None, header: str | None) -> str:
    """The page language: an explicit switch, then the remembered one, then the browser's."""
    for explicit in (query, cookie):
        if explicit in LOCALES:
            return explicit
    tags = accepted(header)
    found = negotiate_locale([t.replace("-", "_") for t in tags], list(LOCALES), sep="_")
    if found:
        return found
    languages = [t.split("-")[0].lower() for t in tags]
    return next((lang for lang in languages if lang in LOCALES), DEFAULT)


def set_current(locale: str) -> None:
    _current.set(locale)


def current() -> str:
    return _current.get()


def _(message: str, **variables: Any) -> str:
    text = translations(current()).gettext(message)
    return text % variables if variables else text


def ngettext(singular: str, plural: str, n: int, **variables: Any) -> str:
    variables.setdefault("num", n)
    return translations(current()).ngettext(singular, plural, n) % variables


#: Run statuses and report counts as the pages name them (the index stores English words).
STATUSES = {"starting": "starting", "running": "running", "completed": "completed",
            "interrupted": "interrupted", "failed": "failed", "abandoned": "abandoned",
            # letters (factory.api.letters)
            "pending": "pending", "approved": "approved", "rejected": "rejected",
            "sent": "sent"}
COUNTS = {"input": "input", "rejected": "rejected", "rendered": "rendered",
          "archived": "archived", "skipped": "skipped", "failed": "failed",
          "pending": "pending", "pages": "pages", "bytes": "bytes",
          "not processed": "not processed", "to render": "to render"}


def status_name(status: str) -> str:
    return _(STATUSES[status]) if status in STATUSES else status


def count_name(name: str) -> str:
    return _(COUNTS[name]) if name in COUNTS else name


def reconciliation(report: dict[str, Any]) -> str:
    """The report's reconciliation line in the page's language, from its counts."""
    counts = report.get("counts") or {}
    line = (report.get("reconciliation") or {}).get("line", "")
    if not counts or "input" not in counts:
        return str(line)
    balanced = (report.get("reconciliation") or {}).get("balanced", True)
    terms = [f"{count_name(k)} {number(counts.get(k, 0))}"
             for k in ("archived", "rejected", "failed", "skipped")]
    text = f"{count_name('input')} {number(counts['input'])} {'=' if balanced else '≠'} " + \
        " + ".join(terms)
    if counts.get("pending"):
        label = "to render" if report.get("dry_run") else "not processed"
        text += f" + {count_name(label)} {number(counts['pending'])}"
    return text


def when(value: Any) -> Any:
    """A timestamp (UTC) or a date, in the page's language (ISO text is read first)."""
    locale = FORMAT[current()]
    if isinstance(value, str) and value[:4].isdigit():
        try:
            value = datetime.fromisoformat(value) if "T" in value or " " in value else \
                date.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return format_datetime(moment, "medium", tzinfo=UTC, locale=locale) + " UTC"
    if isinstance(value, date):
        return format_date(value, "medium", locale=locale)
    return value


def number(value: Any) -> str:
    return format_decimal(int(value or 0), locale=FORMAT[current()])


def number_or_blank(value: Any) -> str:
    """A count in the page's language; blank stays blank, text stays text."""
    if value in (None, ""):
        return ""
    try:
        return format_decimal(int(value), locale=FORMAT[current()])
    except (TypeError, ValueError):
        return str(value)
