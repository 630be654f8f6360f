"""Who a document is for, as the archive indexes it: the customer's name and account.

Takes a record's data (and the field the job names the addressee by: ``[print.address] name``,
``name`` by default); gives the ``customer_name`` and ``account`` of its `ArchiveEntry`, so
compliance can search the archive by them. The account is the first of `ACCOUNT_FIELDS` the
record has (an IBAN is kept without its spaces, as banks compare them); either value is None
when the record has none. Values are cut to their column's width.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

#: Record fields that hold the customer's account, in the order they are looked for.
ACCOUNT_FIELDS = ("account", "account_number", "account_iban", "iban")
NAME_WIDTH = 256
ACCOUNT_WIDTH = 128


class CustomerIdentity(NamedTuple):
    """The two searchable fields of an `ArchiveEntry` (``._asdict()`` gives its keywords)."""

    customer_name: str | None
    account: str | None


def customer_identity(data: Mapping[str, Any], name_field: str = "name") -> CustomerIdentity:
    """The ``customer_name`` and ``account`` of the `ArchiveEntry` of ``data``."""
    name = _text(data.get(name_field))
    account = next((text for text in (_text(data.get(f)) for f in ACCOUNT_FIELDS) if text),
                   None)
    return CustomerIdentity(name[:NAME_WIDTH] if name else None,
                            normal_account(account)[:ACCOUNT_WIDTH] if account else None)


def normal_account(text: str) -> str:
    """An account as indexed and searched: without spaces (``CZ65 0800 ...`` = ``CZ650800...``)."""
    return "".join(text.split())


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, (dict, list, bool)):
        return None
    text = " ".join(str(value).split())
    return text or None
