"""Locale-aware formatting for templates, all through Babel (CLDR data).

Takes values and a locale; gives display strings. Registered as Jinja filters that read the
record's locale from the template context, so ``{{ tx.amount | money(record.currency) }}`` shows
``1 234,50 Kč`` in a Czech letter and ``CZK 1,234.50`` in an English one.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from babel.dates import format_date, format_datetime, format_skeleton
from babel.numbers import format_currency, format_decimal, format_percent
from jinja2 import pass_context
from jinja2.runtime import Context

_CODE_BEFORE_DIGIT = re.compile(r"^(-?)([A-Z]{3})(?=[\d-])")
_DIGIT_BEFORE_CODE = re.compile(r"(?<=\d)([A-Z]{3})$")


def money(locale: str, value: Decimal | int | float | str, currency: str) -> str:
    """An amount in a currency, with CLDR's currency spacing applied.

    Babel does not apply CLDR's ``currencySpacing`` rule, so an ISO code would touch the digits
    (``CZK1,234.50``); a no-break space is inserted as CLDR specifies.
    """
    text = format_currency(Decimal(str(value)), currency, locale=locale)
    text = _CODE_BEFORE_DIGIT.sub("\\1\\2\xa0", text)
    return _DIGIT_BEFORE_CODE.sub("\xa0\\1", text)


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


def day(locale: str, value: date | str, style: str = "medium") -> str:
    if isinstance(value, str):
        value = date.fromisoformat(value)
    if isinstance(value, datetime):
        return format_datetime(value, style, locale=locale)
    return format_date(value, style, locale=locale)


def month_year(locale: str, value: date | str) -> str:
    if isinstance(value, str):
        value = date.fromisoformat(value)
    return format_skeleton("yMMMM", value, locale=locale)


def iban(value: str) -> str:
    """An IBAN grouped in blocks of four for reading: ``CZ65 0800 0000 1920 0014 5399``."""
    compact = "".join(str(value).split()).upper()
    return " ".join(compact[i:i + 4] for i in range(0, len(compact), 4))


def _with_locale(function: Any) -> Any:
    @pass_context
    def filter_(context: Context, value: Any, *args: Any, **kwargs: Any) -> str:
        return function(context["locale"], value, *args, **kwargs)

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
