"""What a compliance search asks for, checked before it reaches the index.

Takes raw strings from the command line or an HTTP query (customer, document type, job,
channel, run id, ``--from``/``--to`` as ``YYYY-MM`` or ``YYYY-MM-DD``, customer name and
account); gives a frozen
`DocumentQuery` or an `InputError` that names the parameter and what was expected. Values are
always bound as SQL parameters; the checks here keep ids out of paths and messages sane.

A document matches a date range when its period starts inside it: ``--from 2026-01 --to
2026-11`` finds the statements of January to November 2026, whatever day they were made.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

from factory import config
from factory.archive.identity import normal_account
from factory.archive.numbering import invoice_candidates
from factory.errors import InputError
from factory.models import Period

DOCUMENT_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
SLUG = re.compile(config.SLUG)
CHANNEL = re.compile(r"^[a-z][a-z0-9_-]{0,15}$")
RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$")
#: Customer ids are free text in the source, but never control characters or huge.
CUSTOMER = re.compile(r"^[^\x00-\x1f\x7f]{1,128}$")

#: A customer name to look for (a part of it): free text, but no control characters.
NAME = re.compile(r"^[^\x00-\x1f\x7f]{1,256}$")
#: An account as the record names it (IBAN, account number): no spaces, '*' only at the end.
ACCOUNT = re.compile(r"^[^\x00-\x20\x7f*]{1,127}\*?$")

#: An invoice number as printed: letters, digits and the usual separators.
INVOICE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9/_.\- ]{0,63}$")

#: Never return more rows than this from one search.
MAX_LIMIT = 10_000


def document_id(text: str) -> str:
    """``text`` if it is a document id (a UUID); `InputError` otherwise."""
    value = str(text).strip().lower()
    if not DOCUMENT_ID.match(value):
        raise InputError(f"{_shown(text)} is not a document id (a UUID like"
                         " 1b4e28ba-2fa1-51d2-883f-0016d3cca427)")
    return value


def run_id(text: str) -> str:
    value = str(text).strip()
    if not RUN_ID.match(value):
        raise InputError(f"{_shown(text)} is not a run id")
    return value


def job_name(text: str, label: str = "job") -> str:
    value = str(text).strip()
    if not SLUG.match(value):
        raise InputError(f"{label} {_shown(text)} is not a job name (lower-case letters, digits,"
                         " '_' or '-')")
    return value


def parse_bound(text: str, label: str, *, end: bool) -> date:
    """The first (or, with ``end``, the last) day of ``YYYY-MM`` or ``YYYY-MM-DD``."""
    try:
        period = Period.parse(str(text).strip())
    except ValueError:
        raise InputError(f"{label} {_shown(text)} is not a month like 2026-11 or a day like"
                         " 2026-11-23") from None
    return period.end if end else period.start


def _shown(text: Any) -> str:
    """A user value quoted for a message, cut short and without control characters."""
    value = re.sub(r"[\x00-\x1f\x7f]", "?", str(text))
    return repr(value if len(value) <= 80 else value[:77] + "...")


@dataclass(frozen=True)
class DocumentQuery:
    """Filters of a search; ``None`` means any. Dates are inclusive period starts."""

    customer: str | None = None
    document_type: str | None = None
    job: str | None = None
    channel: str | None = None
    run_id: str | None = None
    date_from: date | None = None
    date_to: date | None = None
    limit: int = 1000
    #: Every revision (superseded ones too); by default only the current revision of each.
    revisions: bool = False
    #: An invoice number as printed (``FV2026000123``): the documents of that invoice.
    invoice: str | None = None
    #: Part of the customer's name, any case (``jans`` finds "Jan Jansen").
    customer_name: str | None = None
    #: The customer's account as the record names it; ``NL12*`` matches a prefix.
    account: str | None = None

    @classmethod
    def parse(cls, *, customer: str | None = None, document_type: str | None = None,
              job: str | None = None, channel: str | None = None, run: str | None = None,
              date_from: str | None = None, date_to: str | None = None,
              limit: int | None = 1000, revisions: bool = False,
              invoice: str | None = None, customer_name: str | None = None,
              account: str | None = None) -> DocumentQuery:
        """Check raw values (empty strings count as absent); `InputError` names the culprit."""

        def given(value: str | None) -> str | None:
            return None if value is None or not str(value).strip() else str(value).strip()

        customer, document_type, job = given(customer), given(document_type), given(job)
        channel, run, date_from, date_to = given(channel), given(run), given(date_from), \
            given(date_to)
        if customer is not None and not CUSTOMER.match(customer):
            raise InputError(f"customer {_shown(customer)}: up to 128 characters, no control"
                             " characters")
        if document_type is not None and not SLUG.match(document_type):
            raise InputError(f"document type {_shown(document_type)} is not a lower-case name"
                             " like statement")
        if job is not None:
            job_name(job)
        if channel is not None and not CHANNEL.match(channel):
            raise InputError(f"channel {_shown(channel)} is not a channel name like pdf")
        if run is not None:
            run_id(run)
        start = parse_bound(date_from, "--from", end=False) if date_from else None
        stop = parse_bound(date_to, "--to", end=True) if date_to else None
        if start and stop and start > stop:
            raise InputError(f"--from {date_from} is after --to {date_to}: the range is"
                             " reversed")
        if limit is not None and not 1 <= int(limit) <= MAX_LIMIT:
            raise InputError(f"limit {limit} must be between 1 and {MAX_LIMIT}")
        invoice = given(invoice)
        if invoice is not None and not (INVOICE.match(invoice) and invoice[-1].isdigit()):
            raise InputError(f"invoice number {_shown(invoice)} is not an invoice number like"
                             " FV2026000123")
        customer_name, account = given(customer_name), given(account)
        account = normal_account(account) if account is not None else None
        if customer_name is not None and not NAME.match(customer_name):
            raise InputError(f"name {_shown(customer_name)}: up to 256 characters, no control"
                             " characters")
        if account is not None and not ACCOUNT.match(account):
            raise InputError(f"account {_shown(account)}: up to 128 characters, no control"
                             " characters or spaces ('*' only at the end, for a prefix)")
        return cls(customer, document_type, job, channel, run, start, stop,
                   int(limit) if limit is not None else MAX_LIMIT, bool(revisions), invoice,
                   customer_name, account)

    def as_dict(self) -> dict[str, Any]:
        values = asdict(self)
        for name in ("date_from", "date_to"):
            if values[name] is not None:
                values[name] = values[name].isoformat()
        if not values["revisions"]:
            del values["revisions"]
        return {k: v for k, v in values.items() if v is not None}


__all__ = ["DocumentQuery", "document_id", "invoice_candidates", "job_name", "parse_bound",
           "run_id"]
