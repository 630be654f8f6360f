"""`money` (the cached per-locale, per-currency format) against Babel's own ``format_currency``
(`babel_money`) over many values: every locale and currency documents use, signs, zero and
negative zero, rounding ties, long integer parts, and values that leave the fast path."""

from __future__ import annotations

import random
from decimal import Decimal, InvalidOperation, localcontext

import pytest
from babel.core import UnknownLocaleError

from factory.templates import formatting
from factory.templates.formatting import babel_money, format_locale, money

pytestmark = pytest.mark.fast

LOCALES = ["cs", "sk", "uk", "bg", "en", "en_GB", "en_US", "de_CH", "fr", "ar_EG", "hi_IN"]
CURRENCIES = ["CZK", "EUR", "UAH", "GBP", "USD", "BGN", "JPY", "KWD", "CHF", "INR"]


def _values() -> list[Decimal]:
    rng = random.Random(2026)
    values = [Decimal(s) for s in (
        "0", "-0", "0.00", "-0.00", "-0.001", "0.005", "0.015", "0.025", "-0.005", "1", "-1",
        "999.995", "999.994", "-999.995", "1000", "12345.5", "1234567.891", "-98765432.1",
        "100000000000000000", "0.5", "1.5", "2.5", "-2.5", "1E+3", "1.2345E+2", "1E-10",
        "123456789012345678901234.56")]
    for _ in range(600):
        cents = rng.randint(-10 ** rng.randint(1, 14), 10 ** rng.randint(1, 14))
        values.append(Decimal(cents).scaleb(-rng.choice([0, 1, 2, 3, 4])))
    return values


VALUES = _values()


@pytest.mark.parametrize("locale", LOCALES)
def test_money_is_babels_format_currency_for_every_value(locale: str) -> None:
    locale = format_locale(locale)
    for currency in CURRENCIES:
        for value in VALUES:
            assert money(locale, value, currency) == babel_money(locale, value, currency), (
                locale, currency, value)


def test_the_fast_path_is_taken_for_the_shipped_locales() -> None:
    """Not a timing: the per-(locale, currency) format exists, so the test above compared it."""
    for locale in ("cs", "sk", "uk", "bg", "en_GB"):
        for currency in ("CZK", "EUR", "UAH", "GBP", "USD"):
            assert formatting._money_format(locale, currency) is not None, (locale, currency)


def test_money_of_other_types_and_non_finite_values_is_babels() -> None:
    for value in (0, 5, -12, 3.25, "1234.5", "-0.01", Decimal("NaN"), Decimal("Infinity"),
                  Decimal("-Infinity")):
        for locale in ("cs", "en_GB", "bg"):
            assert money(locale, value, "CZK") == babel_money(locale, value, "CZK")  # type: ignore[arg-type]


def test_money_follows_the_decimal_context_as_babel_does() -> None:
    value = Decimal("2.675")
    with localcontext() as context:
        context.rounding = "ROUND_DOWN"
        assert money("cs", value, "CZK") == babel_money("cs", value, "CZK") == "2,67\xa0Kč"
    assert money("cs", value, "CZK") == "2,68\xa0Kč"


def test_errors_are_babels() -> None:
    with pytest.raises(UnknownLocaleError):
        money("xx_NOPE", Decimal("1"), "CZK")
    with pytest.raises(InvalidOperation):
        money("cs", Decimal("1E+40"), "CZK")
    with pytest.raises(InvalidOperation):
        babel_money("cs", Decimal("1E+40"), "CZK")
