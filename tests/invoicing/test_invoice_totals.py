"""EN 16931 totals on awkward amounts: half-up rounding at .005, per line and per VAT group,
several rates, a credit note, exempt and reverse-charge lines, a foreign currency."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from factory.invoicing.totals import (
    Line,
    TotalsError,
    compute_totals,
    line_amount,
    money,
    plain_rate,
)

pytestmark = pytest.mark.fast


def test_rounding_is_half_up_at_the_half_cent() -> None:
    assert money(D("1.005")) == D("1.01")
    assert money(D("2.675")) == D("2.68")  # a float would give 2.67
    assert money(D("-1.005")) == D("-1.01")
    assert money(D("1.0049999")) == D("1.00")
    assert line_amount(Line(D("3"), D("0.335"), "S", D("21"))) == D("1.01")  # 1.005
    assert line_amount(Line(D("1.5"), D("2.005"), "E", D("0"))) == D("3.01")  # 3.0075
    assert line_amount(Line(D("7"), D("12.505"), "S", D("21"), D("10"))) == D("8.75")  # 8.7535


def test_vat_is_rounded_once_per_rate_on_the_sum_of_line_nets() -> None:
    # Three lines of 0.335 x 3 = 1.005 -> 1.01 each. VAT 21 % per line would be 0.2121 -> 0.21,
    # three times 0.63; EN 16931 (BR-CO-17) computes it on the group's 3.03: 0.6363 -> 0.64.
    lines = [Line(D("3"), D("0.335"), "S", D("21"))] * 3
    totals = compute_totals(lines, "CZK")
    (group,) = totals.breakdown
    assert (group.taxable, group.tax) == (D("3.03"), D("0.64"))
    assert totals.vat_total == D("0.64")
    assert totals.grand_total == D("3.67") == totals.due


def test_several_rates_and_an_exempt_line() -> None:
    lines = [
        Line(D("1"), D("10.50"), "S", D("21")),     # VAT 2.205 -> 2.21 (half up)
        Line(D("2"), D("2.195"), "S", D("12")),     # 4.39; VAT 0.5268 -> 0.53
        Line(D("1"), D("4.005"), "E", D("0")),      # 4.01 (4.005 half up), no VAT
        Line(D("1"), D("0.50"), "S", D("21.00")),   # same group as the first line
    ]
    totals = compute_totals(lines, "CZK", exemption_reasons={"E": "Art. 135"})
    assert totals.line_amounts == (D("10.50"), D("4.39"), D("4.01"), D("0.50"))
    rows = [(g.category, g.rate, g.taxable, g.tax, g.exemption_reason)
            for g in totals.breakdown]
    assert rows == [("S", D("21"), D("11.00"), D("2.31"), None),
                    ("S", D("12"), D("4.39"), D("0.53"), None),
                    ("E", D("0"), D("4.01"), D("0.00"), "Art. 135")]
    assert totals.line_total == totals.tax_basis == D("19.40")           # BR-CO-10, 13
    assert totals.vat_total == D("2.84")                                 # BR-CO-14
    assert totals.grand_total == D("22.24")                              # BR-CO-15
    assert sum(g.taxable for g in totals.breakdown) == totals.tax_basis


def test_credit_note_amounts_are_positive_and_paid_amount_reduces_the_due() -> None:
    totals = compute_totals([Line(D("1"), D("100.005"), "S", D("21"))], "CZK", paid=D("20"))
    assert (totals.tax_basis, totals.vat_total, totals.grand_total) == \
        (D("100.01"), D("21.00"), D("121.01"))
    assert totals.due == D("101.01")                                     # BR-CO-16


def test_foreign_currency_gives_vat_in_accounting_currency() -> None:
    lines = [Line(D("1"), D("45.555"), "S", D("21")), Line(D("2"), D("3.335"), "S", D("21"))]
    totals = compute_totals(lines, "EUR", accounting_currency="CZK",
                            exchange_rate=D("25.285"))
    assert totals.tax_basis == D("45.56") + D("6.67")
    assert totals.vat_total == D("10.97")            # 52.23 x 0.21 = 10.9683
    assert totals.vat_total_accounting == D("277.38")  # 10.97 x 25.285 = 277.37645
    assert totals.accounting_currency == "CZK"
    same = compute_totals(lines, "CZK", accounting_currency="CZK", exchange_rate=D("1"))
    assert same.accounting_currency is None and same.vat_total_accounting is None
    with pytest.raises(TotalsError, match="exchange rate"):
        compute_totals(lines, "EUR", accounting_currency="CZK")


def test_reverse_charge_needs_a_reason_and_rate_zero() -> None:
    line = Line(D("1"), D("100"), "AE", D("0"))
    with pytest.raises(TotalsError, match="exemption reason"):
        compute_totals([line], "EUR")
    totals = compute_totals([line], "EUR", exemption_reasons={"AE": "Reverse charge"})
    assert totals.vat_total == D("0.00") and totals.grand_total == D("100.00")


@pytest.mark.parametrize(("line", "message"), [
    (Line(D("1"), D("1"), "S", D("0")), "above 0"),
    (Line(D("1"), D("1"), "Z", D("21")), "must have VAT rate 0"),
    (Line(D("1"), D("1"), "X", D("21")), "not one of"),
    (Line(D("1"), D("-1"), "S", D("21")), "cannot be negative"),
    (Line(D("1"), D("1"), "S", D("21"), D("0")), "base quantity"),
])
def test_lines_en16931_does_not_allow(line: Line, message: str) -> None:
    with pytest.raises(TotalsError, match=message):
        compute_totals([line], "CZK")
    with pytest.raises(TotalsError, match="at least one line"):
        compute_totals([], "CZK")


def test_correction_line_with_negative_quantity() -> None:
    totals = compute_totals([Line(D("2"), D("10"), "S", D("21")),
                             Line(D("-1"), D("10"), "S", D("21"))], "CZK")
    assert totals.tax_basis == D("10.00") and totals.vat_total == D("2.10")


def test_plain_rate() -> None:
    assert [str(plain_rate(D(x))) for x in ("21.00", "10", "12.50", "0.0")] == \
        ["21", "10", "12.5", "0"]
