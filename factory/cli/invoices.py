"""``docfactory invoices register|find``: the invoice register for accounting, and a search by
invoice number.

Takes a period (and optionally a job) or an invoice number; gives, from the index and the
record snapshots archived beside each invoice (never the input files):

- ``register --period P [--job J] [-o FILE]``: one CSV row per invoice and credit note of the
  period: number, type, issue and due date, customer, currency, the taxable base and VAT of
  every VAT category and rate (one column pair per rate found), totals, the VAT in the
  accounting currency and the document id; UTF-8 with a header, `;`-free (comma separated,
  quoted as needed) for any accounting import.
- ``find NUMBER``: every archived document of that invoice (the PDF, and the Peppol UBL where
  it was sent), with its channel, customer and storage key.
"""

from __future__ import annotations

import csv
import io
import json
import re
import sys
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from factory.archive import open_store
from factory.cli.app import App, cli, handle_errors
from factory.errors import InputError, NotFoundError
from factory.files import write_atomic
from factory.models import Period

FIXED = ["number", "type_code", "issued", "due", "customer_id", "customer_name", "currency"]
TOTALS = ["tax_basis", "vat_total", "grand_total", "paid", "amount_due",
          "accounting_currency", "vat_total_accounting", "job", "document_id"]


@cli.group("invoices")
def invoices() -> None:
    """The invoice register and a search by invoice number."""


def _store(app: App) -> Any:
    settings = app.settings()
    return open_store(settings.archive_url or settings.default_archive_url)


def register_rows(snapshots: list[tuple[Any, dict[str, Any]]]
                  ) -> tuple[list[str], list[dict[str, Any]]]:
    """(header, rows) of the register from (entry, record snapshot) pairs."""
    rates: list[str] = []
    rows = []
    for entry, snapshot in snapshots:
        computed = snapshot.get("computed") or {}
        totals = computed.get("totals") or {}
        row = {"number": computed.get("number"), "type_code": computed.get("type_code"),
               "issued": snapshot.get("issued"), "due": computed.get("due"),
               "customer_id": entry.customer_id,
               "customer_name": (snapshot.get("record") or {}).get("name"),
               "currency": totals.get("currency"), "tax_basis": totals.get("tax_basis"),
               "vat_total": totals.get("vat_total"), "grand_total": totals.get("grand_total"),
               "paid": totals.get("paid"), "amount_due": totals.get("due"),
               "accounting_currency": totals.get("accounting_currency") or "",
               "vat_total_accounting": totals.get("vat_total_accounting") or "",
               "job": entry.job, "document_id": entry.document_id}
        for group in totals.get("breakdown") or []:
            rate = f"{group['category']} {group['rate']}"
            if rate not in rates:
                rates.append(rate)
            row[f"base {rate}"] = group["taxable"]
            row[f"vat {rate}"] = group["tax"]
        rows.append(row)
    rows.sort(key=lambda r: str(r["number"]))
    per_rate = [name for rate in rates for name in (f"base {rate}", f"vat {rate}")]
    return FIXED + per_rate + TOTALS, rows


@invoices.command("register")
@click.option("--period", required=True, help="YYYY-MM (or YYYY-MM-DD for a daily job).")
@click.option("--job", default=None, help="Only this job's invoices.")
@click.option("-o", "--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the CSV here (default: standard output).")
@click.pass_obj
@handle_errors
def register(app: App, period: str, job: str | None, out: Path | None) -> None:
    """Export the period's invoice register (CSV) for the accounting system."""
    try:
        code = Period.parse(period).code
    except ValueError as exc:
        raise InputError(f"--period: {exc}") from None
    index = app.open_index(existing=True)
    store = _store(app)
    pairs = []
    for entry in index.documents.entries(document_type="invoice", period=code, channel="pdf",
                                         job=job):
        if not entry.record_storage_key:
            continue
        pairs.append((entry, json.loads(store.get(entry.record_storage_key))))
    header, rows = register_rows(pairs)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=header, restval="", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    if out is None:
        sys.stdout.write(buffer.getvalue())
        return
    write_atomic(out, buffer.getvalue().encode("utf-8"))
    app.out.print(f"[green]✓[/] {len(rows)} invoice(s) of {code} written to {out}")


def _slots(index: Any, number: str) -> list[Any]:
    """The (job, period, record_key, document_type) rows of the invoice ``number``."""
    return list(index.numbering.find_invoice(number))


@invoices.command("find")
@click.argument("number")
@click.pass_obj
@handle_errors
def find(app: App, number: str) -> None:
    """Every archived document of the invoice NUMBER (PDF and Peppol UBL)."""
    if not re.fullmatch(r"[A-Za-z0-9/_-]{1,60}", number):
        raise InputError(f"{number!r} is not an invoice number")
    index = app.open_index(existing=True)
    rows = _slots(index, number)
    if not rows:
        raise NotFoundError(f"no invoice numbered {number} in the index")
    table = Table("document", "channel", "customer", "job", "period", "record", "type",
                  "storage key")
    for row in rows:
        for entry in index.documents.entries(job=row.job, period=row.period,
                                             record_key=row.record_key,
                                             document_type=row.document_type):
            table.add_row(entry.document_id, entry.channel, entry.customer_id, entry.job,
                          entry.period, entry.record_key, entry.media_type, entry.storage_key)
    app.out.print(table)
