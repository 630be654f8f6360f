"""What print assembly works on: archived documents with their postal addresses.

Takes an archived document's index values and its record snapshot (``<doc>.record.json``);
gives a `PrintItem`: where the PDF is stored, its page count, the record key and the postal
address, plus the record's fields for the selection rule. `PostalAddress.household_key` is the
normalised address that decides which documents share an envelope: Unicode NFKC, case-folded,
punctuation and spacing ignored (``Husova 5,`` = ``HUSOVA  5``), postal code without spaces.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from factory.errors import RecordError
from factory.jobs.print import AddressFields

_NOT_WORD = re.compile(r"[\W_]+", re.UNICODE)


def _norm(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).casefold()
    return " ".join(_NOT_WORD.sub(" ", text).split())


@dataclass(frozen=True, slots=True)
class PostalAddress:
    name: str
    line1: str
    line2: str
    postal_code: str
    city: str
    country: str

    @property
    def compact_postal_code(self) -> str:
        return "".join(self.postal_code.split()).upper()

    @property
    def household_key(self) -> str:
        """Documents with the same key go in one envelope (the name does not count)."""
        return "|".join((self.country.upper(), self.compact_postal_code, _norm(self.line1),
                         _norm(self.line2), _norm(self.city)))


@dataclass(frozen=True, slots=True)
class PrintItem:
    """One archived document to print."""

    document_id: str
    storage_key: str
    sha256: str
    record_key: str
    customer_id: str
    page_count: int
    address: PostalAddress
    attributes: Mapping[str, Any] = field(default_factory=dict)


def address_from(record: Mapping[str, Any], fields: AddressFields) -> PostalAddress:
    """The postal address in a record; `RecordError` naming the field if one is missing."""
    values = {}
    for name in ("name", "line1", "line2", "postal_code", "city", "country"):
        source = getattr(fields, name)
        value = record.get(source)
        if (value is None or str(value).strip() == "") and name != "line2":
            raise RecordError("needed for the postal address of a print item, missing", source)
        values[name] = "" if value is None else str(value).strip()
    return PostalAddress(**values)
