"""Reproducible sample invoices for demos, tests and benchmarks of ``jobs/invoice_run.toml``.

Takes a number of invoices, a seed, a period and an output folder; gives ``invoices.jsonl``: one
invoice per line with the buyer's postal address, the currency (CZK, or EUR with an exchange rate
to CZK), the type code (380 invoice, about one in twelve a 381 credit note referring to an earlier
invoice) and 1 to 8 lines with awkward prices (0.335, 12.505 ...), VAT categories S (21 % and
12 %), E (exempt banking services) and, for business customers in Slovakia, AE (reverse charge).
Names and addresses come from `factory.samples.customers`. The same seed always gives the
same bytes.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from factory.models import Period
from factory.samples.customers import customers

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


_CORRECTION = {
    "en": "Fee charged twice", "cs": "Poplatek účtován dvakrát",
    "sk": "Poplatok účtovaný dvakrát", "uk": "Плату стягнуто двічі",
    "bg": "Таксата е начислена два пъти",
}


@dataclass(frozen=True)
class InvoiceSummary:
    invoices: int
    credit_notes: int
    lines: int
    files: list[Path]


def invoices(count: int, seed: int, period: Period) -> list[dict[str, Any]]:
    """``count`` invoices as JSON-ready dicts, reproducibly."""
    rng = random.Random(seed * 7919 + 1)
    result: list[dict[str, Any]] = []
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
            "buyer_vat_id": f"SK{slovak_dic(random.Random(seed * 31 + number))}" if business
            else "",
            "vat_exemption_reason": reason,
            "preceding_invoice": f"FV{period.start.year}{rng.randint(1, 999):06d}" if credit
            else "",
            "preceding_invoice_date": period.start.isoformat() if credit else "",
            "correction_reason": _CORRECTION[locale] if credit else "",
            "preferred_channel": customer["preferred_channel"],
            "lines": lines,
        }
        if credit:
            _corrects_an_earlier_invoice(record, result, random.Random(seed * 613 + number),
                                         period)
        result.append(record)
    return result


#: what a credit note takes over from the invoice it corrects: the same customer
_CUSTOMER_FIELDS = ("customer_id", "name", "email", "locale", "currency", "exchange_rate",
                    "address_line1", "address_line2", "postal_code", "city", "country",
                    "buyer_vat_id", "preferred_channel")


def _corrects_an_earlier_invoice(record: dict[str, Any], earlier: list[dict[str, Any]],
                                 rng: random.Random, period: Period) -> None:
    """Make the credit note ``record`` correct an invoice earlier in the file, of the same
    customer: the factory refuses a credit note whose invoice is not in the index for that
    customer. The number is the one that invoice gets in a fresh series when the file runs in
    order (invoices of the file numbered 1, 2, ...); without an earlier invoice it becomes an
    invoice itself."""
    issued = [row for row in earlier if row["type_code"] == "380"]
    if not issued:
        record.update(type_code="380", preceding_invoice="", preceding_invoice_date="",
                      correction_reason="")
        return
    corrected = rng.choice(issued)
    record.update({name: corrected[name] for name in _CUSTOMER_FIELDS})
    record["preceding_invoice"] = f"FV{period.start.year}{issued.index(corrected) + 1:06d}"


def slovak_dic(rng: random.Random) -> str:
    """A Slovak DIČ that passes the checksum (python-stdnum's ``sk.dph``)."""
    from stdnum.sk import dph

    while True:
        candidate = str(rng.randrange(10**9, 10**10))
        if dph.is_valid("SK" + candidate):
            return candidate


def slovak_invoices(count: int, seed: int, period: Period) -> list[dict[str, Any]]:
    """Invoices of a Slovak seller (jobs/invoice_run_sk.toml) to the Slovak customers among
    ``count``: domestic, in EUR, VAT 23 %; a business customer (about one in three) has an
    IČO, a DIČ, its IČ DPH and the Peppol participant id ``0245:<DIČ>``."""
    rng = random.Random(seed * 104729 + 3)
    rows = []
    every = invoices(count, seed, period)
    # the FV number of each invoice of the file, and the SK number it has in the Slovak run
    fv = [row["invoice_key"] for row in every if row["type_code"] == "380"]
    sk = [row["invoice_key"] for row in every
          if row["type_code"] == "380" and row["country"] == "SK"]
    for row in every:
        if row["country"] != "SK":
            continue
        business = rng.random() < 0.35
        dic = slovak_dic(rng) if business else ""
        lines = [{**line, "vat_category": "E" if line["vat_category"] == "E" else "S",
                  "vat_rate": "0" if line["vat_category"] == "E" else "23"}
                 for line in row["lines"]]
        exempt = any(line["vat_category"] == "E" for line in lines)
        rows.append({
            **row, "currency": "EUR", "exchange_rate": "",
            "name": f"{row['name'].removesuffix(' s.r.o.')} s.r.o." if business
            else row["name"].removesuffix(" s.r.o."),
            "buyer_vat_id": f"SK{dic}" if business else "",
            "buyer_tax_id": dic, "buyer_legal_id": f"{rng.randrange(10**7, 10**8)}"
            if business else "", "peppol_id": f"0245:{dic}" if business else "",
            "vat_exemption_reason": _EXEMPT_REASON["sk"] if exempt else "",
            "preceding_invoice": _slovak_number(row["preceding_invoice"], fv, sk),
            "lines": lines})
    return rows


def _slovak_number(number: str, fv: list[str], sk: list[str]) -> str:
    """The SK-series number of the invoice that is ``number`` in the FV series (the credit
    note's customer is the corrected invoice's, so that invoice is in the Slovak file too)."""
    if not number:
        return ""
    year, ordinal = number[2:6], int(number[6:])
    return f"SK{year}{sk.index(fv[ordinal - 1]) + 1:06d}"


def _write(path: Path, rows: list[dict[str, Any]]) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    tmp.replace(path)


def generate_invoices(count: int, out_dir: Path, *, seed: int = 2026, period: str = "2026-11"
                      ) -> InvoiceSummary:
    """Write ``count`` invoices to ``out_dir/invoices.jsonl`` (jobs/invoice_run.toml) and the
    Slovak seller's invoices to the Slovak customers among them to ``invoices_sk.jsonl``
    (jobs/invoice_run_sk.toml)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path, sk_path = out_dir / "invoices.jsonl", out_dir / "invoices_sk.jsonl"
    rows = invoices(count, seed, Period.parse(period))
    _write(path, rows)
    _write(sk_path, slovak_invoices(count, seed, Period.parse(period)))
    return InvoiceSummary(len(rows), sum(r["type_code"] == "381" for r in rows),
                          sum(len(r["lines"]) for r in rows), [path, sk_path])
