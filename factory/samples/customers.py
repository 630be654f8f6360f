"""Realistic, reproducible sample customers for demos, tests and benchmarks.

Takes a number of customers, a seed, a period and an output folder; gives the files a job can
read: ``customers.csv`` + ``transactions.csv`` (the default), ``customers.jsonl`` (nested
transactions) or ``customers.db`` (SQLite, two tables). Each customer has a name, a form of
address (``salutation``: mr/ms), address, valid IBAN and phone number for their country, a
locale among en, cs, sk, uk and bg, and 5 to 80 transactions in the period. The same seed
always gives the same bytes. Files are written row by row (constant memory) to temporary names
and renamed into place.
"""

from __future__ import annotations

import csv
import json
import random
import sqlite3
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from factory.models import Period

#: One customer and their transactions, as written to the files.
Sample = tuple[dict[str, Any], list[dict[str, Any]]]

CUSTOMER_COLUMNS = [
    "customer_id", "name", "salutation", "email", "phone", "locale", "currency", "address_line1",
    "address_line2", "postal_code", "city", "country", "account_iban", "opening_balance",
    "preferred_channel", "consent_email", "consent_sms",
]
TRANSACTION_COLUMNS = ["customer_id", "date", "description", "amount", "reference"]

# (given names female, given names male, surnames female, surnames male)
_NAMES = {
    "cs": (["Marie", "Jana", "Eva", "Lucie", "Kateřina", "Lenka", "Tereza", "Veronika"],
           ["Jan", "Petr", "Tomáš", "Martin", "Jiří", "Pavel", "Ondřej", "Lukáš"],
           ["Nováková", "Svobodová", "Dvořáková", "Černá", "Procházková", "Kučerová",
            "Veselá", "Horáková", "Němcová", "Pokorná"],
           ["Novák", "Svoboda", "Dvořák", "Černý", "Procházka", "Kučera", "Veselý",
            "Horák", "Němec", "Pokorný"]),
    "sk": (["Mária", "Zuzana", "Katarína", "Lucia", "Jana", "Martina", "Ivana"],
           ["Ján", "Peter", "Martin", "Michal", "Tomáš", "Juraj", "Ľubomír"],
           ["Horváthová", "Kováčová", "Vargová", "Tóthová", "Nagyová", "Balážová",
            "Szabóová", "Molnárová"],
           ["Horváth", "Kováč", "Varga", "Tóth", "Nagy", "Baláž", "Szabó", "Molnár"]),
    "uk": (["Олена", "Ірина", "Наталія", "Юлія", "Оксана", "Тетяна", "Ганна"],
           ["Олександр", "Андрій", "Тарас", "Дмитро", "Сергій", "Богдан", "Юрій"],
           ["Шевченко", "Коваленко", "Бондаренко", "Ткаченко", "Кравченко", "Мельник",
            "Ковальчук", "Олійник"],
           ["Шевченко", "Коваленко", "Бондаренко", "Ткаченко", "Кравченко", "Мельник",
            "Ковальчук", "Олійник"]),
    "bg": (["Мария", "Елена", "Десислава", "Цветелина", "Йорданка", "Гергана", "Радостина"],
           ["Георги", "Иван", "Димитър", "Николай", "Христо", "Стоян", "Петър"],
           ["Иванова", "Георгиева", "Димитрова", "Петрова", "Николова", "Стоянова",
            "Христова"],
           ["Иванов", "Георгиев", "Димитров", "Петров", "Николов", "Стоянов", "Христов"]),
    "en": (["Amelia", "Olivia", "Isla", "Emily", "Grace", "Sophie", "Charlotte"],
           ["Oliver", "George", "Harry", "Jack", "Thomas", "William", "James"],
           ["Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Davies", "Evans",
            "O'Connor"],
           ["Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Davies", "Evans",
            "O'Connor"]),
}

# country: (currency, iban bank codes, BBAN digits after bank, phone prefixes, streets, cities)
_COUNTRIES: dict[str, dict[str, Any]] = {
    "CZ": {"currency": "CZK", "banks": ["0800", "0100", "0300", "2010", "5500"], "bban": 16,
           "phone": ["+420 601", "+420 602", "+420 603", "+420 604", "+420 605", "+420 721",
                     "+420 732", "+420 775", "+420 777"],
           "streets": ["Vinohradská", "Husova", "Masarykova", "Nádražní", "Palackého",
                       "Komenského", "Jiráskova", "Náměstí Míru", "Korunní", "U Průhonu"],
           "cities": [("Praha 2", "120 00"), ("Praha 3", "130 00"), ("Praha 7", "170 00"),
                      ("Brno", "602 00"), ("Ostrava", "702 00"), ("Plzeň", "301 00"),
                      ("Olomouc", "779 00"), ("Liberec", "460 01"),
                      ("České Budějovice", "370 01"), ("Hradec Králové", "500 02")]},
    "SK": {"currency": "EUR", "banks": ["0900", "1100", "0200", "7500"], "bban": 16,
           "phone": ["+421 903", "+421 905", "+421 908", "+421 910", "+421 915", "+421 944",
                     "+421 948"],
           "streets": ["Hlavná", "Štúrova", "Hviezdoslavova", "Obchodná", "Mlynská",
                       "Záhradnícka", "Šafárikova"],
           "cities": [("Bratislava", "811 01"), ("Košice", "040 01"), ("Žilina", "010 01"),
                      ("Nitra", "949 01"), ("Prešov", "080 01"), ("Banská Bystrica", "974 01")]},
    "BG": {"currency": "EUR", "banks": ["BNBG", "UNCR", "STSA", "FINV"], "bban": 14,
           "phone": ["+359 87", "+359 88", "+359 89"],
           "streets": ["ул. Витоша", "бул. Христо Ботев", "ул. Граф Игнатиев", "ул. Раковски",
                       "бул. България", "ул. Шипка"],
           "cities": [("София", "1000"), ("Пловдив", "4000"), ("Варна", "9000"),
                      ("Бургас", "8000"), ("Русе", "7000"), ("Стара Загора", "6000")]},
}

# which country and how likely, per locale (Ukrainian and English speakers mostly live in CZ)
_HOME = {"cs": ["CZ"], "sk": ["SK"], "bg": ["BG"], "uk": ["CZ", "CZ", "CZ", "SK"],
         "en": ["CZ", "CZ", "SK", "BG"]}
_LOCALE_WEIGHTS = [("cs", 40), ("sk", 15), ("uk", 15), ("bg", 15), ("en", 15)]

_MERCHANTS = {
    "CZ": ["Albert Praha", "Tesco Stores ČR", "Lidl Česká republika", "Rohlik.cz",
           "Billa", "Kaufland", "dm drogerie markt", "Alza.cz", "DPP jízdenka",
           "ČEZ Prodej – záloha elektřina", "Pražská plynárenská", "Vodafone Czech Republic",
           "O2 Czech Republic", "Netflix.com", "Spotify AB", "Bolt Operations",
           "Marks & Spencer", "H&M Hennes & Mauritz", "Výběr z bankomatu",
           "Lékárna Dr.Max", "Benzina – čerpací stanice", "IKEA Zličín", "Pilsner Urquell <Pub>"],
    "SK": ["Tesco Bratislava", "Lidl Slovenská republika", "Billa Slovensko", "Slovnaft",
           "ZSE Energia – elektrina", "SPP – plyn", "Orange Slovensko", "Telekom SK",
           "Kaufland Slovenská republika", "Výber z bankomatu", "Dopravný podnik Bratislava",
           "Martinus.sk", "Netflix.com", "Bolt Operations"],
    "BG": ["Фантастико", "Лидл България", "Кауфланд България", "Билла България",
           "Енерго-Про Продажби", "ЧЕЗ Електро България", "А1 България", "Йеттел България",
           "Теглене от банкомат", "Софийска вода", "Шел България", "eMAG.bg",
           "Netflix.com", "Bolt Operations"],
}
_INCOME = {"CZ": ("Mzda", (28000, 95000)), "SK": ("Mzda", (1100, 3800)),
           "BG": ("Заплата", (900, 3200))}
_RENT = {"CZ": ("Nájem", (9000, 26000)), "SK": ("Nájom", (380, 1100)),
         "BG": ("Наем", (300, 900))}
_SPEND = {"CZ": (60, 1900), "SK": (2.5, 80), "BG": (2, 75)}

def income_floor(country: str) -> float:
    return float(_INCOME[country][1][0])


_TRANSLIT = dict(zip(
    "абвгґдеєжзиіїйклмнопрстуфхцчшщъьюяэыё",
    ["a", "b", "v", "h", "g", "d", "e", "ye", "zh", "z", "y", "i", "yi", "y", "k", "l", "m",
     "n", "o", "p", "r", "s", "t", "u", "f", "kh", "ts", "ch", "sh", "shch", "a", "", "yu",
     "ya", "e", "y", "yo"], strict=True))


@dataclass(frozen=True)
class SampleSummary:
    customers: int
    transactions: int
    files: list[Path]
    locales: dict[str, int]


def _ascii(text: str) -> str:
    out = []
    for ch in text.lower():
        if ch in _TRANSLIT:
            out.append(_TRANSLIT[ch])
        else:
            out.append(unicodedata.normalize("NFKD", ch).encode("ascii", "ignore").decode())
    return "".join(c for c in "".join(out) if c.isalnum() or c == ".")


def _iban(country: str, bank: str, rng: random.Random, length: int) -> str:
    bban = bank + "".join(str(rng.randrange(10)) for _ in range(length))
    rearranged = bban + country + "00"
    digits = "".join(str(int(ch, 36)) for ch in rearranged)
    check = 98 - int(digits) % 97
    return f"{country}{check:02d}{bban}"


def _phone(prefix: str, rng: random.Random) -> str:
    cc, rest = prefix.split(" ", 1)
    needed = {"+420": 9, "+421": 9, "+359": 9}[cc] - len(rest)
    return f"{cc} {rest}{''.join(str(rng.randrange(10)) for _ in range(needed))}"


def _pick_locale(rng: random.Random) -> str:
    roll = rng.randrange(sum(w for _, w in _LOCALE_WEIGHTS))
    for locale, weight in _LOCALE_WEIGHTS:
        if roll < weight:
            return locale
        roll -= weight
    return "en"


def _money(low: float, high: float, rng: random.Random) -> Decimal:
    return Decimal(str(round(rng.uniform(low, high), 2))).quantize(Decimal("0.01"))


def customers(count: int, seed: int, period: Period) -> Iterator[Sample]:
    """Yield (customer, transactions) pairs, reproducibly."""
    rng = random.Random(seed)
    days = (period.end - period.start).days + 1
    for number in range(1, count + 1):
        locale = _pick_locale(rng)
        country = rng.choice(_HOME[locale])
        place = _COUNTRIES[country]
        female = rng.random() < 0.5
        given_f, given_m, sur_f, sur_m = _NAMES[locale]
        given = rng.choice(given_f if female else given_m)
        surname = rng.choice(sur_f if female else sur_m)
        city, postal = rng.choice(place["cities"])
        customer_id = f"C{number:06d}"
        email = f"{_ascii(given)}.{_ascii(surname)}{number}@example.com" \
            if rng.random() < 0.9 else ""
        phone = _phone(rng.choice(place["phone"]), rng) if rng.random() < 0.92 else ""
        low, high = _SPEND[country]
        opening = _money(income_floor(country) * 0.2, income_floor(country) * 3, rng)
        customer = {
            "customer_id": customer_id,
            "name": f"{given} {surname}",
            "email": email,
            "phone": phone,
            "locale": locale,
            "currency": place["currency"],
            "address_line1": f"{rng.choice(place['streets'])} {rng.randint(1, 180)}",
            "address_line2": f"{rng.randint(1, 6)}. patro" if country == "CZ"
            and rng.random() < 0.15 else "",
            "postal_code": postal,
            "city": city,
            "country": country,
            "account_iban": _iban(country, rng.choice(place["banks"]), rng, place["bban"]),
            "opening_balance": str(opening),
            "preferred_channel": rng.choice(["email", "email", "email", "sms", "print"]),
            "consent_email": "true" if email and rng.random() < 0.85 else "false",
            "consent_sms": "true" if phone and rng.random() < 0.7 else "false",
            "salutation": "ms" if female else "mr",
        }
        count_tx = rng.randint(5, 80)
        dates = sorted(period.start + timedelta(days=rng.randrange(days))
                       for _ in range(count_tx))
        transactions = []
        income_label, income_range = _INCOME[country]
        rent_label, rent_range = _RENT[country]
        for index, day in enumerate(dates):
            if index == 0:
                description, amount = income_label, _money(*income_range, rng)
            elif index == 1:
                description, amount = rent_label, -_money(*rent_range, rng)
            else:
                description = rng.choice(_MERCHANTS[country])
                amount = -_money(low, high, rng)
                if rng.random() < 0.06:
                    amount = -amount  # a refund
            transactions.append({
                "date": day.isoformat(),
                "description": description,
                "amount": str(amount),
                "reference": f"VS{rng.randint(10**7, 10**8 - 1)}" if rng.random() < 0.3 else "",
            })
        yield customer, transactions


def generate(count: int, out_dir: Path, *, seed: int = 2026, period: str = "2026-11",
             fmt: str = "csv") -> SampleSummary:
    """Write ``count`` customers to ``out_dir`` in ``fmt`` (csv, jsonl or sqlite)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    writer = {"csv": _write_csv, "jsonl": _write_jsonl, "sqlite": _write_sqlite}[fmt]
    return writer(customers(count, seed, Period.parse(period)), out_dir)


def _tmp(path: Path) -> Path:
    return path.with_name(f".{path.name}.tmp")


def _write_csv(rows: Iterator[Sample], out_dir: Path) -> SampleSummary:
    cpath, tpath = out_dir / "customers.csv", out_dir / "transactions.csv"
    locales: dict[str, int] = {}
    n_c = n_t = 0
    with _tmp(cpath).open("w", encoding="utf-8", newline="") as cf, \
            _tmp(tpath).open("w", encoding="utf-8", newline="") as tf:
        cw = csv.DictWriter(cf, CUSTOMER_COLUMNS)
        tw = csv.DictWriter(tf, TRANSACTION_COLUMNS)
        cw.writeheader()
        tw.writeheader()
        for customer, transactions in rows:
            n_c += 1
            locales[customer["locale"]] = locales.get(customer["locale"], 0) + 1
            cw.writerow(customer)
            for tx in transactions:
                n_t += 1
                tw.writerow({"customer_id": customer["customer_id"], **tx})
    _tmp(cpath).replace(cpath)
    _tmp(tpath).replace(tpath)
    return SampleSummary(n_c, n_t, [cpath, tpath], locales)


def _write_jsonl(rows: Iterator[Sample], out_dir: Path) -> SampleSummary:
    path = out_dir / "customers.jsonl"
    locales: dict[str, int] = {}
    n_c = n_t = 0
    with _tmp(path).open("w", encoding="utf-8") as handle:
        for customer, transactions in rows:
            n_c += 1
            n_t += len(transactions)
            locales[customer["locale"]] = locales.get(customer["locale"], 0) + 1
            record = {**customer, "transactions": transactions}
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    _tmp(path).replace(path)
    return SampleSummary(n_c, n_t, [path], locales)


def _write_sqlite(rows: Iterator[Sample], out_dir: Path) -> SampleSummary:
    path = out_dir / "customers.db"
    tmp = _tmp(path)
    tmp.unlink(missing_ok=True)
    db = sqlite3.connect(tmp)
    db.execute(f"CREATE TABLE customers ({', '.join(c + ' TEXT' for c in CUSTOMER_COLUMNS)})")
    db.execute("CREATE TABLE transactions (customer_id TEXT, date TEXT, description TEXT,"
               " amount TEXT, reference TEXT)")
    db.execute("CREATE INDEX transactions_customer ON transactions (customer_id)")
    locales: dict[str, int] = {}
    n_c = n_t = 0
    for customer, transactions in rows:
        n_c += 1
        locales[customer["locale"]] = locales.get(customer["locale"], 0) + 1
        db.execute(f"INSERT INTO customers VALUES ({', '.join('?' * len(CUSTOMER_COLUMNS))})",
                   [customer[c] for c in CUSTOMER_COLUMNS])
        db.executemany("INSERT INTO transactions VALUES (?, ?, ?, ?, ?)",
                       [(customer["customer_id"], t["date"], t["description"], t["amount"],
                         t["reference"]) for t in transactions])
        n_t += len(transactions)
    db.commit()
    db.close()
    tmp.replace(path)
    return SampleSummary(n_c, n_t, [path], locales)
