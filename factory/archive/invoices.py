"""Issued invoice numbers, read back: which document and customer a number belongs to.

Takes the index and an invoice number as printed (``FV2026000001``: a series followed by the
number's digits, the default ``number_format``); gives the `IssuedNumber` rows that carry it
(one per series it can be read in, normally one). Reads only; written by
`ClaimRepository.complete_numbered`. Used to check that a credit note corrects an invoice
that exists, for the same customer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import select

from factory.archive.tables import document_numbers, documents

if TYPE_CHECKING:
    from factory.archive.index import SqlIndex


@dataclass(frozen=True, slots=True)
class IssuedNumber:
    series: str
    number: int
    job: str
    period: str
    record_key: str
    document_id: str
    customer_id: str


def find_invoice(index: SqlIndex, number: str) -> list[IssuedNumber]:
    """Every issued number that reads as ``number`` (series prefix + digits)."""
    found: list[IssuedNumber] = []
    with index.connect() as connection:
        series: list[str] = list(connection.execute(
            select(document_numbers.c.series).distinct()).scalars())
        for name in series:
            rest = number[len(name):] if number.startswith(name) else ""
            if not re.fullmatch(r"\d{1,18}", rest):
                continue
            rows = connection.execute(
                select(document_numbers, documents.c.customer_id)
                .join(documents, documents.c.document_id == document_numbers.c.document_id)
                .where(document_numbers.c.series == name,
                       document_numbers.c.number == int(rest)))
            found += [IssuedNumber(row.series, int(row.number), row.job, row.period,
                                   row.record_key, row.document_id, row.customer_id)
                      for row in rows]
    return found
