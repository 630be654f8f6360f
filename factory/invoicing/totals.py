"""Invoice totals as EN 16931 computes them: pure `Decimal` arithmetic, no I/O.

Takes invoice lines (quantity, net unit price, price base quantity, VAT category and rate), the
amount already paid and, for an invoice in a foreign currency, the exchange rate to the VAT
accounting currency; gives `Totals`: every line's net amount, the VAT breakdown per category and
rate, and the document totals, each rounded to 2 decimals with ROUND_HALF_UP (1.005 -> 1.01).

The rules implemented (EN 16931-1:2017 business rules, names as in the standard):

- Line net amount (BT-131) = quantity (BT-129) x net price (BT-146) / base quantity (BT-149),
  rounded to 2 decimals per line (BR-DEC-23); prices may carry up to 4 decimals.
- BR-CO-10: sum of line net amounts (BT-106) = sum of BT-131.
- BR-CO-13: total without VAT (BT-109) = BT-106 (document-level allowances and charges,
  BG-20/BG-21, are not supported by this module: a record with them is refused by the schema).
- BR-S-08, BR-Z-08, BR-E-08, BR-AE-08, BR-K-08, BR-G-08: one VAT breakdown (BG-23) per distinct
  category code (BT-118) and rate (BT-119); its taxable amount (BT-116) is the sum of the line
  net amounts in that category and rate (not the sum of per-line VAT).
- BR-CO-17: category tax amount (BT-117) = BT-116 x BT-119 / 100, rounded to 2 decimals once
  per breakdown row (never per line, never on the unrounded line amounts).
- BR-CO-14: total VAT (BT-110) = sum of BT-117.
- BR-CO-15: total with VAT (BT-112) = BT-109 + BT-110.
- BR-CO-16: amount due (BT-115) = BT-112 - paid amount (BT-113) (+ rounding BT-114, always 0
  here).
- BR-53: when the VAT accounting currency (BT-6) differs from the invoice currency (BT-5), the
  total VAT in accounting currency (BT-111) is given: here BT-110 x exchange rate, rounded to 2
  decimals (the standard fixes no method; Czech VAT law accepts the total converted at the rate
  of the tax point).
- Zero-rated (Z), exempt (E), reverse charge (AE), intra-community (K) and export (G) categories
  carry rate 0 and need an exemption reason (BR-E-10, BR-AE-10, ...); standard (S) needs a rate
  above 0 (BR-S-05).

A credit note (type code 381) carries positive amounts like an invoice; the type code says it
is a credit. Negative line quantities are allowed (a correction line on an invoice).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
ZERO = Decimal("0.00")

#: VAT category codes (UNCL5305 subset of EN 16931) this module handles.
CATEGORIES = {
    "S": "Standard rate",
    "Z": "Zero rated goods",
    "E": "Exempt from tax",
    "AE": "VAT reverse charge",
    "K": "Intra-community supply",
    "G": "Export outside the EU",
}
ZERO_RATE_CATEGORIES = {"Z", "E", "AE", "K", "G"}
REASON_REQUIRED = {"E", "AE", "K", "G"}
#: categories whose invoice states the deliver-to country (BT-80): BR-IC-12
DELIVERY_REQUIRED = {"K"}
INVOICE = "380"
CREDIT_NOTE = "381"


class TotalsError(ValueError):
    """The lines cannot make a valid EN 16931 invoice; names the line and the field."""

    def __init__(self, message: str, field: str | None = None) -> None:
        self.field = field
        super().__init__(message)


def money(value: Decimal) -> Decimal:
    """Round to cents, half up: Decimal("1.005") -> 1.01, Decimal("-1.005") -> -1.01."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True, slots=True)
class Line:
    """One invoice line as the record gives it."""

    quantity: Decimal
    unit_price: Decimal
    vat_category: str
    vat_rate: Decimal
    base_quantity: Decimal = Decimal(1)


@dataclass(frozen=True, slots=True)
class VatGroup:
    """One row of the VAT breakdown (BG-23)."""

    category: str
    rate: Decimal
    taxable: Decimal
    tax: Decimal
    exemption_reason: str | None = None


@dataclass(frozen=True, slots=True)
class Totals:
    """Everything an invoice prints and its XML states, all rounded to 2 decimals."""

    currency: str
    line_amounts: tuple[Decimal, ...]
    breakdown: tuple[VatGroup, ...]
    line_total: Decimal
    tax_basis: Decimal
    vat_total: Decimal
    grand_total: Decimal
    paid: Decimal
    due: Decimal
    accounting_currency: str | None = None
    exchange_rate: Decimal | None = None
    vat_total_accounting: Decimal | None = None

    def as_json(self) -> dict[str, object]:
        """JSON-safe form (amounts as strings), for record snapshots and tests."""
        return {
            "currency": self.currency,
            "line_amounts": [str(a) for a in self.line_amounts],
            "breakdown": [{"category": g.category, "rate": str(g.rate),
                           "taxable": str(g.taxable), "tax": str(g.tax),
                           "exemption_reason": g.exemption_reason} for g in self.breakdown],
            "line_total": str(self.line_total),
            "tax_basis": str(self.tax_basis),
            "vat_total": str(self.vat_total),
            "grand_total": str(self.grand_total),
            "paid": str(self.paid),
            "due": str(self.due),
            "accounting_currency": self.accounting_currency,
            "exchange_rate": None if self.exchange_rate is None else str(self.exchange_rate),
            "vat_total_accounting": None if self.vat_total_accounting is None
            else str(self.vat_total_accounting),
        }


def plain_rate(rate: Decimal) -> Decimal:
    """A VAT rate without trailing zeros or exponent: 21.00 -> 21, 10 -> 10, 12.50 -> 12.5."""
    rate = rate.normalize()
    return rate.quantize(Decimal(1)) if rate == rate.to_integral_value() else rate


def line_amount(line: Line) -> Decimal:
    """BT-131: quantity x price / base quantity, rounded half up to cents."""
    return money(line.quantity * line.unit_price / line.base_quantity)


def check_line(line: Line, number: int, reason: str | None = None) -> None:
    where = f"line {number}"
    if line.vat_category not in CATEGORIES:
        raise TotalsError(f"{where}: VAT category {line.vat_category!r} is not one of"
                          f" {', '.join(CATEGORIES)}", "vat_category")
    if line.vat_category == "S" and line.vat_rate <= 0:
        raise TotalsError(f"{where}: standard-rated (S) lines need a VAT rate above 0",
                          "vat_rate")
    if line.vat_category in ZERO_RATE_CATEGORIES and line.vat_rate != 0:
        raise TotalsError(f"{where}: category {line.vat_category} must have VAT rate 0",
                          "vat_rate")
    if line.vat_rate < 0 or line.vat_rate >= 100:
        raise TotalsError(f"{where}: VAT rate {line.vat_rate} is not a percentage", "vat_rate")
    if line.base_quantity <= 0:
        raise TotalsError(f"{where}: price base quantity must be above 0", "base_quantity")
    if line.unit_price < 0:
        raise TotalsError(f"{where}: the net price (BT-146) cannot be negative; use a"
                          " negative quantity for a correction", "unit_price")


def compute_totals(lines: Sequence[Line], currency: str, *, paid: Decimal = ZERO,
                   accounting_currency: str | None = None,
                   exchange_rate: Decimal | None = None,
                   exemption_reasons: dict[str, str] | None = None) -> Totals:
    """The totals of an invoice; raise `TotalsError` on lines EN 16931 does not allow.

    ``exchange_rate`` converts one unit of ``currency`` into ``accounting_currency``; it is
    required when the two differ.
    """
    if not lines:
        raise TotalsError("an invoice needs at least one line (BR-16)", "lines")
    reasons = exemption_reasons or {}
    for number, line in enumerate(lines, 1):
        check_line(line, number)
        if line.vat_category in REASON_REQUIRED and not reasons.get(line.vat_category):
            raise TotalsError(f"line {number}: category {line.vat_category} needs an"
                              " exemption reason (BT-120)", "vat_exemption_reason")
    amounts = tuple(line_amount(line) for line in lines)
    groups: dict[tuple[str, Decimal], Decimal] = {}
    for line, amount in zip(lines, amounts, strict=True):
        key = (line.vat_category, plain_rate(line.vat_rate))
        groups[key] = groups.get(key, ZERO) + amount
    breakdown = tuple(
        VatGroup(category, rate, money(taxable), money(taxable * rate / 100),
                 reasons.get(category) if category in REASON_REQUIRED else None)
        for (category, rate), taxable in sorted(groups.items(), key=_group_order))
    line_total = money(sum(amounts, ZERO))
    tax_basis = line_total
    vat_total = money(sum((g.tax for g in breakdown), ZERO))
    grand_total = tax_basis + vat_total
    paid = money(paid)
    converted = None
    if accounting_currency == currency:
        accounting_currency, exchange_rate = None, None
    if accounting_currency is not None:
        if exchange_rate is None or exchange_rate <= 0:
            raise TotalsError(f"an invoice in {currency} needs an exchange rate to"
                              f" {accounting_currency} (BT-111, BR-53)", "exchange_rate")
        converted = money(vat_total * exchange_rate)
    return Totals(currency=currency, line_amounts=amounts, breakdown=breakdown,
                  line_total=line_total, tax_basis=tax_basis, vat_total=vat_total,
                  grand_total=grand_total, paid=paid, due=grand_total - paid,
                  accounting_currency=accounting_currency, exchange_rate=exchange_rate,
                  vat_total_accounting=converted)


def _group_order(item: tuple[tuple[str, Decimal], Decimal]) -> tuple[int, Decimal]:
    (category, rate), _ = item
    return (list(CATEGORIES).index(category), -rate)


def lines_from(items: Iterable[dict[str, object]]) -> list[Line]:
    """`Line` values from typed record items (``quantity``, ``unit_price``, ``vat_category``,
    ``vat_rate`` and optional ``base_quantity``)."""
    lines = []
    for item in items:
        base = item.get("base_quantity")
        lines.append(Line(
            quantity=Decimal(str(item["quantity"])),
            unit_price=Decimal(str(item["unit_price"])),
            vat_category=str(item["vat_category"]),
            vat_rate=Decimal(str(item["vat_rate"])),
            base_quantity=Decimal(str(base)) if base not in (None, "") else Decimal(1)))
    return lines
