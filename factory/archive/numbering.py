"""Gapless numbering: the ``sequences`` and ``document_numbers`` tables.

Takes a series name (and, inside the claim protocol's transaction, a connection); gives the
next number with the series row locked (`lock_sequence`), the number a slot was issued
(`issued`), the recorded assignment (`assign`), and for readers `NumberingRepository`
(``index.numbering``): every number of a series, the next one, the rows of an invoice number
as printed. `factory.archive.claims.ClaimRepository.complete_numbered` ties them to a
document row in one transaction (see there for why no number is ever lost or repeated).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, false, insert, or_, select, update
from sqlalchemy.engine import Connection, Row
from sqlalchemy.exc import IntegrityError

from factory.archive.db import Connections, now
from factory.archive.rows import IssuedNumber, NumberRow, Slot
from factory.archive.tables import document_numbers, documents, sequences


def invoice_candidates(text: str) -> list[tuple[str, int]]:
    """Every (series, number) an invoice number as printed can be: the number is a run of
    trailing digits, the series what precedes it (less a separator). ``FV2026000123`` is
    (FV2026, 123), (FV202600012, 3)... The numbering table decides which one exists."""
    found = []
    for cut in range(len(text) - 1, -1, -1):
        if not text[cut].isdigit():
            break
        series = text[:cut].rstrip("/-_. ")
        if series:
            found.append((series, int(text[cut:])))
    return found


def numbered_documents(text: str) -> ColumnElement[bool]:
    """A condition on the documents table: the documents (every channel) of the invoice
    numbered ``text`` in the numbering table."""
    n = document_numbers
    pairs = invoice_candidates(text)
    if not pairs:
        return false()
    return exists(select(n.c.number).where(
        n.c.job == documents.c.job, n.c.period == documents.c.period,
        n.c.record_key == documents.c.record_key, n.c.document_type == documents.c.document_type,
        or_(*(and_(n.c.series == series, n.c.number == number) for series, number in pairs))))


def _slot_of(slot: Slot) -> ColumnElement[bool]:
    return and_(document_numbers.c.job == slot.job, document_numbers.c.period == slot.period,
                document_numbers.c.record_key == slot.record_key,
                document_numbers.c.document_type == slot.document_type)


def issued(connection: Connection, slot: Slot) -> Row[Any] | None:
    """(series, number, document_id) already issued to ``slot``'s record, or None."""
    return connection.execute(select(document_numbers.c.series, document_numbers.c.number,
                                     document_numbers.c.document_id)
                              .where(_slot_of(slot))).first()


def lock_sequence(connection: Connection, series: str) -> int:
    """The next number of ``series``, with its row locked until the transaction ends."""
    query = select(sequences.c.next_number).where(sequences.c.series == series) \
        .with_for_update()
    found: int | None = connection.execute(query).scalar_one_or_none()
    if found is None:
        try:
            with connection.begin_nested():
                connection.execute(insert(sequences).values(
                    series=series, next_number=1, updated_at=now()))
        except IntegrityError:
            pass  # created by another worker meanwhile; lock theirs
        found = connection.execute(query).scalar_one()
    return int(found)


def assign(connection: Connection, series: str, number: int, slot: Slot,
           document_id: str) -> None:
    """Record ``number`` of ``series`` as issued to ``document_id``; move the sequence on."""
    connection.execute(insert(document_numbers).values(
        series=series, number=number, job=slot.job, period=slot.period,
        record_key=slot.record_key, document_type=slot.document_type,
        document_id=document_id, assigned_at=now()))
    connection.execute(update(sequences).where(sequences.c.series == series)
                       .values(next_number=number + 1, updated_at=now()))


class NumberingRepository:
    """Reads of the numbering tables."""

    def __init__(self, db: Connections) -> None:
        self.db = db

    def numbers(self, series: str) -> list[IssuedNumber]:
        """(number, record key, document id) of every number assigned in ``series``."""
        with self.db.connect() as connection:
            rows = connection.execute(select(
                document_numbers.c.number, document_numbers.c.record_key,
                document_numbers.c.document_id).where(document_numbers.c.series == series)
                .order_by(document_numbers.c.number))
            return [IssuedNumber(int(r.number), r.record_key, r.document_id) for r in rows]

    def next_number(self, series: str) -> int:
        with self.db.connect() as connection:
            found = connection.execute(select(sequences.c.next_number).where(
                sequences.c.series == series)).scalar_one_or_none()
        return int(found) if found is not None else 1

    def find_invoice(self, number: str) -> list[NumberRow]:
        """The numbering rows of the invoice ``number`` as printed (series + digits)."""
        with self.db.connect() as connection:
            series: Sequence[str] = connection.execute(
                select(document_numbers.c.series).distinct()).scalars().all()
            found: list[NumberRow] = []
            for name in series:
                rest = number[len(name):] if number.startswith(name) else ""
                if re.fullmatch(r"\d+", rest):
                    found += [NumberRow.from_row(row._mapping) for row in connection.execute(
                        select(document_numbers).where(
                            document_numbers.c.series == name,
                            document_numbers.c.number == int(rest)))]
            return found
