"""Translated fixed texts, from gettext ``.po`` catalogs read with Babel.

Takes a template set; gives a `Catalogs` object with one gettext translation per locale, built
from ``templates/_shared/i18n/<locale>.po`` overlaid by ``templates/<set>/i18n/<locale>.po``
(no compile step: the .po files are read at start-up). ``missing()`` lists the message ids the
templates use that a locale does not translate, using Babel's Jinja extractor, so ``validate``
can refuse a half-translated template set before a customer sees English in a Czech letter.
"""

from __future__ import annotations

import gettext
import io
from collections.abc import Iterable
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_file
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

from factory.errors import ConfigError
from factory.templates.templateset import TemplateSet

_JINJA_OPTIONS = {"extensions": "jinja2.ext.i18n", "trimmed": "true"}


class Catalogs:
    """Per-locale gettext translations for one template set."""

    def __init__(self, template_set: TemplateSet, locales: Iterable[str]) -> None:
        self.template_set = template_set
        self.catalogs: dict[str, Catalog] = {}
        self.translations: dict[str, gettext.NullTranslations] = {}
        for locale in locales:
            catalog = Catalog(locale=locale)
            for folder in (template_set.shared_dir, template_set.set_dir):
                path = folder / "i18n" / f"{locale}.po"
                if path.is_file():
                    for message in _read(path, locale):
                        if message.id and message.string:
                            catalog[message.id] = message
            self.catalogs[locale] = catalog
            buffer = io.BytesIO()
            write_mo(buffer, catalog)
            buffer.seek(0)
            self.translations[locale] = Translations(fp=buffer)

    def for_locale(self, locale: str) -> gettext.NullTranslations:
        return self.translations.get(locale) or gettext.NullTranslations()

    def used_messages(self) -> dict[str, list[str]]:
        """Message id -> where it is used ("file:line"), over every template of the set."""
        used: dict[str, list[str]] = {}
        for folder in (self.template_set.set_dir, self.template_set.shared_dir):
            for path in sorted(folder.rglob("*")):
                if path.suffix not in {".html", ".txt", ".subject", ".j2"}:
                    continue
                for line, message, _comments, _context in extract_from_file(
                    "jinja2", str(path), options=_JINJA_OPTIONS
                ):
                    ids = message if isinstance(message, tuple) else (message,)
                    for msgid in ids:
                        if msgid:
                            used.setdefault(msgid, []).append(f"{path}:{line}")
        return used

    def missing(self, locale: str, source_locale: str = "en") -> list[str]:
        """One line per message the templates use that ``locale`` leaves untranslated."""
        if locale == source_locale:
            return []
        catalog = self.catalogs.get(locale, Catalog(locale=locale))
        problems = []
        for msgid, places in sorted(self.used_messages().items()):
            message = catalog.get(msgid)
            if message is None or not message.string:
                problems.append(
                    f"{self.template_set.set_dir / 'i18n' / (locale + '.po')}: no translation"
                    f" for {msgid!r} (used at {places[0]})"
                )
        return problems


def _read(path: Path, locale: str) -> Catalog:
    try:
        with path.open("rb") as handle:
            return read_po(handle, locale=locale, abort_invalid=True)
    except Exception as exc:  # babel raises PoFileError and ValueError subclasses
        raise ConfigError(f"{path}: not a valid .po catalog: {exc}") from None
