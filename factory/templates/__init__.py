"""Templates: a template set plus a brand plus a locale, rendered to strings.

Takes the templates and assets folders, a template set name, a brand name and the job's
locales; gives `DocumentTemplates`, whose ``render`` turns one record (typed values) and its
document metadata into HTML or text, and whose ``stylesheets`` are the CSS sources the PDF
renderer parses once per process. Any template failure becomes a `TemplateError` that names
the template file and line.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from jinja2 import TemplateError as JinjaTemplateError
from jinja2 import TemplateNotFound, TemplateSyntaxError, UndefinedError
from jinja2.exceptions import SecurityError

from factory.errors import TemplateError
from factory.models import Period
from factory.templates.brand import Brand, load_brand
from factory.templates.environment import build_environment, translating
from factory.templates.formatting import format_locale
from factory.templates.i18n import Catalogs
from factory.templates.templateset import TemplateSet, short_version


@dataclass(frozen=True)
class DocumentMeta:
    """What a template knows about the document it renders, beside the record."""

    document_id: str
    document_type: str
    job: str
    period: Period
    issued: date
    template_version: str
    #: The customer's signed link to the archived PDF (email and SMS; `factory.links`).
    link: str | None = None

    def as_context(self) -> dict[str, Any]:
        return {
            "id": self.document_id,
            "type": self.document_type,
            "job": self.job,
            "period": {"code": self.period.code, "start": self.period.start,
                       "end": self.period.end},
            "issued": self.issued,
            "template_version": self.template_version,
            "short_version": short_version(self.template_version),
            "link": self.link,
        }


class DocumentTemplates:
    """One template set with its brand and catalogs, ready to render any record."""

    def __init__(self, template_set: TemplateSet, brand: Brand, locales: Iterable[str],
                 default_locale: str = "en") -> None:
        self.template_set = template_set
        self.brand = brand
        self.default_locale = default_locale
        self.locales = list(locales)
        self.catalogs = Catalogs(template_set, self.locales)
        self.env = build_environment(template_set)

    @classmethod
    def load(cls, templates_dir: Path, assets_dir: Path, set_name: str, brand_name: str,
             locales: Iterable[str], default_locale: str = "en") -> DocumentTemplates:
        template_set = TemplateSet.load(templates_dir, assets_dir, set_name, brand_name)
        brand = load_brand(template_set.brand_dir)
        return cls(template_set, brand, locales, default_locale)

    @property
    def version(self) -> str:
        return self.template_set.version

    def stylesheets(self) -> list[tuple[str, str]]:
        """(CSS text, base URL) pairs: the brand's fonts and colours, then the set's sheets."""
        sheets = [(self.brand.css(), self.template_set.brand_dir.as_uri() + "/")]
        for name in self.template_set.manifest.stylesheets:
            path = self.template_set.stylesheet_path(name)
            sheets.append((path.read_text(encoding="utf-8"), path.as_uri()))
        return sheets

    def format_locale(self, locale: str) -> str:
        """The Babel locale of a document: ``en`` is the brand's English (default en_GB)."""
        return format_locale(locale, self.brand.english)

    def brand_context(self, locale: str) -> dict[str, Any]:
        return {
            "name": self.brand.name,
            "legal_name": self.brand.legal_name,
            "footer": self.brand.footer_for(locale, self.default_locale),
            "contact": dict(self.brand.contact),
            "logo_url": self.brand.logo_path.as_uri(),
            "email_logo": self.brand.email_logo_src(),
            "colours": dict(self.brand.colours),
            "country": self.brand.country,
            "language": self.brand.language,
        }

    def render(self, template: str, record: Mapping[str, Any], locale: str,
               meta: DocumentMeta) -> str:
        """Render ``template`` of the set for one record; raise `TemplateError` on failure."""
        context = {
            "record": record,
            "locale": locale,
            "format_locale": self.format_locale(locale),
            "lang": self.format_locale(locale).replace("_", "-"),
            "brand": self.brand_context(locale),
            "document": meta.as_context(),
        }
        try:
            with translating(self.catalogs.for_locale(locale)):
                return self.env.get_template(template).render(context)
        except TemplateNotFound as exc:
            raise TemplateError(
                f"template {exc.name!r} not found in {self.template_set.set_dir}") from None
        except TemplateSyntaxError as exc:
            raise TemplateError(
                f"{exc.filename or exc.name}:{exc.lineno}: syntax error: {exc.message}"
            ) from None
        except UndefinedError as exc:
            raise TemplateError(f"{_where()}: {exc.message} (a field the record does not have,"
                                " or a misspelt name)") from None
        except SecurityError as exc:
            raise TemplateError(f"{_where()}: forbidden by the template sandbox: {exc}") from None
        except JinjaTemplateError as exc:
            raise TemplateError(f"{_where()}: {exc}") from None
        except (ArithmeticError, ValueError, TypeError, KeyError) as exc:
            raise TemplateError(f"{_where()}: {type(exc).__name__}: {exc}") from None


def _where() -> str:
    """The innermost template file and line of the exception being handled."""
    _, _, tb = sys.exc_info()
    where = "template"
    for frame in traceback.extract_tb(tb):
        if frame.filename.endswith((".html", ".txt", ".subject", ".j2", ".css")):
            where = f"{Path(frame.filename).name}:{frame.lineno}"
    return where


__all__ = ["Brand", "DocumentMeta", "DocumentTemplates", "TemplateSet"]
