"""Reproducible sample invoices for demos, tests and benchmarks of ``jobs/invoice_run.toml``.

Takes a number of invoices, a seed, a period and an output folder; gives ``invoices.jsonl``: one
invoice per line with the buyer's postal address, the currency (CZK, or EUR with an exchange rate
to CZK), the type code (380 invoice, about one in twelve a 381 credit note referring to an earlier
invoice) and 1 to 8 lines with awkward prices (0.335, 12.505 ...), VAT categories S (21 % and
12 %), E (exempt banking services) and, for business customers in Slovakia, AE (reverse charge).
Names and addresses come from `factory.sample`. The same seed always gives the same bytes.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

from factory.models import Period
from factory.sample import customers

_SERVICES = [
    # description, unit, price choices, category, rate
    ("Safe deposit box rental", "MON", ["12.505", "24.99", "7.335"], "S", "21"),
    ("Payment card reissue", "C62", ["3.335", "9.995", "4.5"], "S", "21"),
    ("Account statement by post", "C62", ["0.335", "0.665", "1.005"], "S", "21"),
    ("Financial newsletter subscription", "MON", ["2.195", "3.505"], "S", "12"),
    ("Account maintenance", "MON", ["4.005", "6.995"], "E", "0"),
    ("Foreign payment fee", "C62", ["0.495", "1.255", "2.005"], "E", "0"),
    ("Investment advice", "HUR", ["45.555", "60.005"], "S", "21"),
]
#: exemption reasons (BT-120) in the invoice's language: the XML and the page say the same
_EXEMPT_REASON = {
    "en": "Exempt financial service (Art. 135(1) Directive 2006/112/EC)",
    "cs": "Osvobozená finanční služba (§ 54 zákona č. 235/2004 Sb., o DPH)",
    "sk": "Oslobodená finančná služba (§ 39 zákona č. 222/2004 Z. z. o DPH)",
    "uk": "Звільнена фінансова послуга (ст. 135(1) Директиви 2006/112/ЄС)",
    "bg": "Освободена финансова услуга (чл. 135(1) от Директива 2006/112/ЕО)",
}
_REVERSE_REASON = {
    "en": "Reverse charge (Art. 196 Directive 2006/112/EC)",
    "cs": "Přenesení daňové povinnosti (čl. 196 směrnice 2006/112/ES)",
    "sk": "Prenesenie daňovej povinnosti (čl. 196 smernice 2006/112/ES)",
    "uk": "Зворотне оподаткування (ст. 196 Директиви 2006/112/ЄС)",
    "bg": "Обратно начисляване (чл. 196 от Директива 2006/112/ЕО)",
}
_EUR_CZK = ["25.285", "25.13", "24.965"]


@dataclass(frozen=True)
class InvoiceSummary:
    invoices: int
    credit_notes: int
    lines: int
    files: list[Path]


def invoices(count: int, seed: int, period: Period) -> list[dict]:
    """``count`` invoices as JSON-ready dicts, reproducibly."""
    rng = random.Random(seed * 7919 + 1)
    result = []
    for number, (customer, _tx) in enumerate(customers(count, seed, period), 1):
        business = customer["country"] == "SK" and rng.random() < 0.3
        currency = "EUR" if customer["country"] != "CZ" else "CZK"
        credit = rng.random() < 0.08
        lines = []
        for _ in range(rng.randint(1, 8)):
            description, unit, prices, category, rate = rng.choice(_SERVICES)
            if business:
                category, rate = "AE", "0"
            quantity = rng.choice(["1", "1", "2", "3", "1.5", "12"])
            lines.append({"description": description, "quantity": quantity, "unit": unit,
                          "unit_price": rng.choice(prices), "vat_category": category,
                          "vat_rate": rate})
        categories = {line["vat_category"] for line in lines}
        locale = customer["locale"] if customer["locale"] in _EXEMPT_REASON else "en"
        reason = _REVERSE_REASON[locale] if "AE" in categories else \
            _EXEMPT_REASON[locale] if "E" in categories else ""
        record = {
            "invoice_key": f"I{number:06d}",
            "customer_id": customer["customer_id"],
            "type_code": "381" if credit else "380",
            "name": customer["name"] if not business else f"{customer['name']} s.r.o.",
            "email": customer["email"],
            "locale": customer["locale"],
            "currency": currency,
            "exchange_rate": rng.choice(_EUR_CZK) if currency != "CZK" else "",
            "address_line1": customer["address_line1"],
            "address_line2": customer["address_line2"],
            "postal_code": customer["postal_code"],
            "city": customer["city"],
            "country": customer["country"],
            "buyer_vat_id": f"SK{rng.randrange(10**9, 10**10)}" if business else "",
            "vat_exemption_reason": reason,
            "preceding_invoice": f"FV{period.start.year}{rng.randint(1, 999):06d}" if credit
            else "",
            "preceding_invoice_date": period.start.isoformat() if credit else "",
            "preferred_channel": customer["preferred_channel"],
            "lines": lines,
        }
        result.append(record)
    return result


def generate_invoices(count: int, out_dir: Path, *, seed: int = 2026, period: str = "2026-11"
                      ) -> InvoiceSummary:
    """Write ``count`` invoices to ``out_dir/invoices.jsonl``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "invoices.jsonl"
    tmp = path.with_name(f".{path.name}.tmp")
    rows = invoices(count, seed, Period.parse(period))
    with tmp.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    tmp.replace(path)
    return InvoiceSummary(len(rows), sum(r["type_code"] == "381" for r in rows),
                          sum(len(r["lines"]) for r in rows), [path])
