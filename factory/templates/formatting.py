"""Locale-aware formatting for templates, all through Babel (CLDR data).

Takes values and a locale; gives display strings. Registered as Jinja filters that read the
formatting locale from the template context (``format_locale``: the record's locale, with
``en`` made concrete as the brand's English variant, ``en_GB`` by default), so
``{{ tx.amount | money(record.currency) }}`` shows ``1 234,50 Kč`` in a Czech letter and
``CZK 1,234.50`` in an English one.

Dates have two styles, one for running text and headers, one for tables (docs/locale.md):

=======  ===============================  ====================
locale   ``body`` (CLDR "long")           ``table``
=======  ===============================  ====================
cs       30. listopadu 2026               30. 11. 2026
sk       30. novembra 2026                30. 11. 2026
uk       30 листопада 2026 р.             30.11.2026
bg       30 ноември 2026 г.               30.11.2026
en_GB    30 November 2026                 30/11/2026
=======  ===============================  ====================

A date (or a month) that ends in an abbreviation's full stop (``р.``, ``г.``) is not followed by
a second one: `environment` drops the sentence's full stop after such a value.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from babel import Locale
from babel.dates import format_date, format_skeleton
from babel.numbers import (
    format_currency,
    format_decimal,
    format_percent,
    get_currency_precision,
    get_currency_symbol,
    get_decimal_symbol,
    get_group_symbol,
)
from jinja2 import pass_context
from jinja2.runtime import Context

_CODE_BEFORE_DIGIT = re.compile(r"^(-?)([A-Z]{3})(?=[\d-])")
_DIGIT_BEFORE_CODE = re.compile(r"(?<=\d)([A-Z]{3})$")


def money(locale: str, value: Decimal | int | float | str, currency: str) -> str:
    """An amount in a currency, with CLDR's currency spacing applied.

    Babel does not apply CLDR's ``currencySpacing`` rule, so an ISO code would touch the digits
    (``CZK1,234.50``); a no-break space is inserted as CLDR specifies. The result is exactly
    `babel_money`'s; the work per (locale, currency) is done once (`_money_format`).
    """
    if type(value) is Decimal and value.is_finite():
        try:
            form = _money_format(locale, currency)
        except Exception:  # an unknown locale or currency: Babel raises its own error below
            form = None
        if form is not None:
            return form.apply(value)
    return babel_money(locale, value, currency)


def babel_money(locale: str, value: Decimal | int | float | str, currency: str) -> str:
    """`money` through Babel's ``format_currency`` on every call: the reference `money` is
    tested against, and the path for values other than a finite `Decimal`."""
    text = format_currency(Decimal(str(value)), currency, locale=locale)
    text = _CODE_BEFORE_DIGIT.sub("\\1\\2\xa0", text)
    return _DIGIT_BEFORE_CODE.sub("\xa0\\1", text)


class _MoneyFormat:
    """One (locale, currency)'s standard currency format, every part of it taken from Babel:
    the CLDR pattern's affixes with the currency symbol (and the currency spacing) in place,
    the group and decimal symbols, the grouping sizes and the currency's digits.

    Hand-written, deliberately: `apply` is what Babel's ``NumberPattern.apply`` does for a
    finite Decimal with these fixed parts (quantize to the currency's digits, group the
    integer digits, join with the affixes), without looking up the locale's symbols, the
    currency's precision and symbol and re-applying the spacing rule for each of the ~180
    amounts of a statement (16 µs each through Babel, ~2 µs here). tests/templates/
    test_money_format.py compares it with Babel's output over thousands of values in every
    locale and currency we ship."""

    __slots__ = ("affixes", "decimal", "first", "group", "quantum", "rest")

    def __init__(self, locale: str, currency: str) -> None:
        parsed = Locale.parse(locale)
        pattern = parsed.currency_formats["standard"]
        if "¤¤¤" in "".join(pattern.prefix + pattern.suffix) or pattern.exp_prec \
                or "@" in pattern.pattern or pattern.scale or pattern.number_pattern == "":
            raise ValueError(f"no fast path for {pattern.pattern!r}")
        symbol = get_currency_symbol(currency, parsed)

        def affix(text: str) -> str:  # as Babel substitutes ¤¤, ¤ and strips quotes
            text = text.replace("¤¤", currency.upper()).replace("¤", symbol)
            return re.sub(r"'([^']*)'", lambda m: m.group(1) or "'", text)

        # The currency spacing rule on the affixes alone: the number they surround always
        # starts and ends with a digit, which "0" stands for here.
        self.affixes = tuple(
            (_CODE_BEFORE_DIGIT.sub("\\1\\2\xa0", affix(pattern.prefix[sign]) + "0")[:-1],
             _DIGIT_BEFORE_CODE.sub("\xa0\\1", "0" + affix(pattern.suffix[sign]))[1:])
            for sign in (0, 1))
        self.quantum = Decimal(10) ** -get_currency_precision(currency)
        self.group = get_group_symbol(parsed)
        self.decimal = get_decimal_symbol(parsed)
        self.first, self.rest = pattern.grouping
        if pattern.int_prec[0] > 1:
            raise ValueError(f"no fast path for {pattern.pattern!r}")

    def apply(self, value: Decimal) -> str:
        prefix, suffix = self.affixes[value.is_signed()]
        whole, _, fraction = f"{abs(value).normalize().quantize(self.quantum):f}".partition(".")
        size, groups = self.first, ""
        while len(whole) > size:
            groups = self.group + whole[-size:] + groups
            whole = whole[:-size]
            size = self.rest
        digits = whole + groups + (self.decimal + fraction if fraction else "")
        return prefix + digits + suffix


@functools.lru_cache(maxsize=256)
def _money_format(locale: str, currency: str) -> _MoneyFormat | None:
    try:
        return _MoneyFormat(locale, currency)
    except ValueError:
        return None  # a pattern the fast path does not cover: Babel formats every value


def number(locale: str, value: Any, digits: int | None = None) -> str:
    if digits is None:
        return format_decimal(value, locale=locale)
    pattern_digits = "0" * digits
    fmt = f"#,##0.{pattern_digits}" if digits else "#,##0"
    return format_decimal(Decimal(str(value)), format=fmt, locale=locale)


def exact(locale: str, value: Any) -> str:
    """A number with every decimal it carries, none added, none rounded away (a unit price of
    ``12.3456`` prints ``12,3456`` in Czech): what an e-invoice states, printed the same."""
    return format_decimal(Decimal(str(value)).normalize(), locale=locale,
                          decimal_quantization=False)


def percent(locale: str, value: Any) -> str:
    return format_percent(value, locale=locale)


#: The English variant documents use when a record says ``en`` and the brand does not choose.
DEFAULT_ENGLISH = "en_GB"

#: Table dates: numeric, four-digit year, day first; no-break spaces so that a date never
#: wraps in a narrow column. Chosen per locale (CLDR's "short" has two-digit years and, for
#: bg, a trailing "г." that a column does not need).
TABLE_DATES = {
    "cs": "d.\u00a0M.\u00a0y",
    "sk": "d.\u00a0M.\u00a0y",
    "uk": "dd.MM.y",
    "bg": "dd.MM.y",
    "en": "dd/MM/y",
}

#: The style names templates use; CLDR's names are accepted and mean the same two styles, so
#: a document cannot mix ``1. 11. 2026`` and ``01.11.26``.
DATE_STYLES = {"body": "body", "table": "table", "full": "body", "long": "body",
               "medium": "body", "short": "table"}


def format_locale(locale: str, english: str = DEFAULT_ENGLISH) -> str:
    """The Babel locale a document is formatted in: ``en`` becomes the English variant."""
    return english if locale == "en" else locale


# Dates repeat within a statement (a month has 30 days) and across records: each (locale,
# date, style) is formatted by Babel once per process. A cache, not hand-written formatting.
@functools.lru_cache(maxsize=8192)
def day(locale: str, value: date | str, style: str = "body") -> str:
    """A date in the ``body`` or ``table`` style of ``locale`` (see the module docstring)."""
    if isinstance(value, str):
        value = date.fromisoformat(value)
    if style not in DATE_STYLES:
        raise ValueError(f"date style {style!r}: use one of body, table")
    if isinstance(value, datetime):
        value = value.date()
    if DATE_STYLES[style] == "table":
        pattern = TABLE_DATES.get(locale.split("_")[0], TABLE_DATES["en"])
        return format_date(value, pattern, locale=locale)
    return format_date(value, "long", locale=locale)


@functools.lru_cache(maxsize=1024)
def month_year(locale: str, value: date | str) -> str:
    if isinstance(value, str):
        value = date.fromisoformat(value)
    return format_skeleton("yMMMM", value, locale=locale)


def iban(value: str) -> str:
    """An IBAN grouped in blocks of four for reading: ``CZ65 0800 0000 1920 0014 5399``."""
    compact = "".join(str(value).split()).upper()
    return " ".join(compact[i:i + 4] for i in range(0, len(compact), 4))


def _with_locale(function: Callable[..., str]) -> Callable[..., str]:
    @pass_context
    def filter_(context: Context, value: Any, *args: Any, **kwargs: Any) -> str:
        locale = context.get("format_locale") or format_locale(context["locale"])
        return function(locale, value, *args, **kwargs)

    filter_.__name__ = function.__name__
    filter_.__doc__ = function.__doc__
    return filter_


FILTERS = {
    "money": _with_locale(money),
    "number": _with_locale(number),
    "exact": _with_locale(exact),
    "percent": _with_locale(percent),
    "date": _with_locale(day),
    "month_year": _with_locale(month_year),
    "iban": iban,
}
