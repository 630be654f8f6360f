"""The Jinja2 environment every template is rendered in: sandboxed, autoescaped, strict.

Takes a template set; gives an ``ImmutableSandboxedEnvironment`` that loads the set's own files
by name and the shared partials as ``shared/<name>``, escapes every value in HTML (text
templates, ``*.txt`` and ``*.subject`` for email and SMS, are not HTML and are not escaped),
raises on any
undefined name (`StrictUndefined`), knows the Babel filters, and translates ``_()`` and
``{% trans %}`` through the gettext translation of the locale being rendered (a context
variable, so one warm environment serves every locale).

The translated string is filled in (``%(name)s``) as Jinja's new-style gettext does, with one
typographic rule on top: a value that ends with a full stop (a date ending in ``р.`` or
``г.``, an abbreviation) swallows the full stop the sentence puts right after it, so no text
ever reads ``2026 р..``.

Its loader (`ConfinedLoader`) refuses a
template whose real path leaves the set's allowed folders (a symbolic link out of them).
"""

from __future__ import annotations

import gettext
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from jinja2 import (
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    PrefixLoader,
    StrictUndefined,
    pass_context,
)
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment
from markupsafe import Markup

from factory.templates.blocks import block_global
from factory.templates.formatting import FILTERS
from factory.templates.postal import address_lines
from factory.templates.salutation import record_salutation
from factory.templates.templateset import TemplateSet

_current: ContextVar[gettext.NullTranslations | None] = ContextVar(
    "docfactory_translations", default=None
)
_UNTRANSLATED = gettext.NullTranslations()


def _translations() -> gettext.NullTranslations:
    return _current.get() or _UNTRANSLATED


def _gettext(message: str) -> str:
    return _translations().gettext(message)


def _ngettext(singular: str, plural: str, n: int) -> str:
    return _translations().ngettext(singular, plural, n)


def _pgettext(context: str, message: str) -> str:
    return _translations().pgettext(context, message)


def fill(message: str, variables: dict[str, Any], autoescape: bool = False) -> str:
    """``message % variables``, without a second full stop after a value that ends in one."""
    for name, value in variables.items():
        placeholder = f"%({name})s"
        if str(value).endswith(".") and placeholder + "." in message:
            message = message.replace(placeholder + ".", placeholder)
    if autoescape:
        # The message is a translator's text, trusted like the template (as Jinja does).
        message = Markup(message)  # noqa: S704
    return message % variables


@pass_context
def _gettext_filled(context: Context, message: str, **variables: Any) -> str:
    return fill(_gettext(message), variables, context.eval_ctx.autoescape)


@pass_context
def _ngettext_filled(context: Context, singular: str, plural: str, n: int,
                     **variables: Any) -> str:
    variables.setdefault("num", n)
    return fill(_ngettext(singular, plural, n), variables, context.eval_ctx.autoescape)


@pass_context
def _pgettext_filled(context: Context, msgctxt: str, message: str, **variables: Any) -> str:
    variables.setdefault("context", msgctxt)
    return fill(_pgettext(msgctxt, message), variables, context.eval_ctx.autoescape)


@pass_context
def _salutation(context: Context, record: Any) -> str:
    """``{{ salutation(record) }}``: the formal greeting in the record's language."""
    return record_salutation(context["locale"], record)


@pass_context
def _postal_lines(context: Context, record: Any) -> list[str]:
    """``{{ postal_lines(record) }}``: the address block by the destination's postal rules."""
    brand = context.get("brand") or {}
    return address_lines(record, brand.get("country"), brand.get("language") or "en")


@contextmanager
def translating(translations: gettext.NullTranslations) -> Iterator[None]:
    """Render with ``translations`` for the duration of the block."""
    token = _current.set(translations)
    try:
        yield
    finally:
        _current.reset(token)


def _is_html(name: str | None) -> bool:
    return not (name or "").endswith(TEXT_SUFFIXES)


#: Templates that produce plain text (email text part and subject, SMS): never HTML-escaped.
TEXT_SUFFIXES = (".txt", ".subject")


class ConfinedLoader(FileSystemLoader):
    """A `FileSystemLoader` that refuses a template whose real path (symbolic links resolved)
    leaves the allowed folders, even a link made after the set was checked at load time."""

    def __init__(self, searchpath: Path, allowed: tuple[Path, ...]) -> None:
        super().__init__(str(searchpath))
        self.allowed = allowed

    def get_source(self, environment: Environment, template: str
                   ) -> tuple[str, str, Callable[[], bool]]:
        source, filename, uptodate = super().get_source(environment, template)
        real = Path(filename).resolve()
        if not any(real.is_relative_to(root) for root in self.allowed):
            # SecurityError, not TemplateNotFound: ChoiceLoader would try the next loader.
            raise SecurityError(f"{template} is a symbolic link to {real}, outside the template"
                                " set, templates/_shared and the brand's folder")
        return source, filename, uptodate


def build_environment(template_set: TemplateSet) -> ImmutableSandboxedEnvironment:
    allowed = template_set.allowed_roots()
    loader = ChoiceLoader([
        ConfinedLoader(template_set.set_dir, allowed),
        PrefixLoader({"shared": ConfinedLoader(template_set.shared_dir, allowed)}),
    ])
    env = ImmutableSandboxedEnvironment(
        loader=loader,
        autoescape=_is_html,
        undefined=StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
        cache_size=-1,
    )
    env.filters.update(FILTERS)
    env.install_gettext_callables(  # type: ignore[attr-defined]
        _gettext, _ngettext, newstyle=True, pgettext=_pgettext
    )
    # Jinja's new-style callables, with `fill` doing the interpolation.
    env.globals.update({"_": _gettext_filled, "gettext": _gettext_filled,
                        "ngettext": _ngettext_filled, "pgettext": _pgettext_filled,
                        "salutation": _salutation, "postal_lines": _postal_lines,
                        "block": block_global(template_set.manifest.blocks)})
    env.policies["ext.i18n.trimmed"] = True
    return env
