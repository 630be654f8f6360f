"""Payment QR codes for invoices: QR Platba (SPAYD) for CZK, PAY by square for EUR.

Takes the payee's IBAN and BIC, the amount due, its currency, the due date and the variable
symbol (the same digits the e-invoice states as payment reference BT-83); gives a `PaymentQr`:
the payload text and the QR code as SVG markup for the page. The payloads come from maintained
libraries: ``qrplatba`` (Czech Banking Association SPAYD format) and ``pay-by-square`` (the
Slovak Banking Association's by square format: LZMA-compressed, base32hex); the QR symbol is
drawn by ``segno``. Nothing is drawn when nothing is due (credit notes, paid invoices).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

SPAYD = "SPAYD"
BY_SQUARE = "PAY by square"


@dataclass(frozen=True, slots=True)
class PaymentQr:
    kind: str
    payload: str
    svg: str


def payload(kind: str, *, iban: str, bic: str | None, amount: Decimal, currency: str,
            due: date, variable_symbol: str | None, payee: str) -> str:
    """The text a banking app reads from the code."""
    if kind == SPAYD:
        from qrplatba import SpaydGenerator

        return str(SpaydGenerator(iban, bic=bic, amount=float(amount), currency=currency,
                                  x_vs=variable_symbol or None, due_date=due,
                                  recipient_name=payee[:35]).get_text())
    import pay_by_square

    return str(pay_by_square.generate(
        amount=float(amount), iban=iban, swift=bic or "", date=due, currency=currency,
        variable_symbol=variable_symbol or "", beneficiary_name=payee[:70]))


def kind_for(currency: str) -> str | None:
    """Which scheme a payer's banking app reads for ``currency``: SPAYD (Czech banks) for CZK,
    PAY by square (Slovak banks) for EUR; None for any other currency."""
    return {"CZK": SPAYD, "EUR": BY_SQUARE}.get(currency)


def payment_qr(*, iban: str, bic: str | None, amount: Decimal, currency: str, due: date,
               variable_symbol: str | None, payee: str) -> PaymentQr | None:
    """The QR code to print, or None when nothing is due or the currency has no scheme."""
    kind = kind_for(currency)
    if kind is None or amount <= 0:
        return None
    import segno

    text = payload(kind, iban=iban, bic=bic, amount=amount, currency=currency, due=due,
                   variable_symbol=variable_symbol, payee=payee)
    out = io.BytesIO()
    # error correction M is what both banking associations recommend; 4 modules of quiet zone
    segno.make_qr(text, error="m").save(out, kind="svg", xmldecl=False, svgns=True,
                                         scale=4, border=4, omitsize=False)
    return PaymentQr(kind, text, out.getvalue().decode("utf-8"))
