"""The manifest of a print file, for the mail room and the inserter's reconciliation.

Takes a `Batch` and the print file's name; gives JSON and CSV bytes with, per envelope: its
sequence, the record keys and document ids inside, sheets, pages (first and last page in the
print file) and the postal code, city and country it is addressed to. Deterministic.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from factory.printing.plan import Batch

CSV_COLUMNS = ["batch_id", "envelope", "record_keys", "documents", "sheets", "pages",
               "first_page", "last_page", "postal_code", "city", "country"]


def envelopes(batch: Batch) -> list[dict[str, Any]]:
    rows = []
    page = 1
    for envelope in batch.envelopes:
        address = envelope.address
        docs = []
        for planned in envelope.documents:
            docs.append({"record_key": planned.item.record_key,
                         "document_id": planned.item.document_id,
                         "customer_id": planned.item.customer_id,
                         "pages": planned.item.page_count, "first_page": page,
                         "blank_after": planned.blank_after})
            page += planned.pages
        rows.append({"envelope": envelope.sequence, "sheets": envelope.sheets,
                     "pages": envelope.pages, "first_page": docs[0]["first_page"],
                     "last_page": page - 1, "postal_code": address.postal_code,
                     "city": address.city, "country": address.country, "documents": docs})
    return rows


def manifest_json(batch: Batch, *, job: str, period: str, file_name: str, duplex: bool) -> bytes:
    body = {"batch_id": batch.batch_id, "batch": batch.number, "job": job, "period": period,
            "file": file_name, "duplex": duplex, "envelopes": len(batch.envelopes),
            "documents": batch.documents, "sheets": batch.sheets, "pages": batch.pages,
            "blank_pages": batch.blanks, "items": envelopes(batch)}
    return (json.dumps(body, ensure_ascii=False, indent=1) + "\n").encode("utf-8")


def manifest_csv(batch: Batch) -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in envelopes(batch):
        writer.writerow({
            "batch_id": batch.batch_id, "envelope": row["envelope"],
            "record_keys": ";".join(d["record_key"] for d in row["documents"]),
            "documents": len(row["documents"]), "sheets": row["sheets"], "pages": row["pages"],
            "first_page": row["first_page"], "last_page": row["last_page"],
            "postal_code": row["postal_code"], "city": row["city"], "country": row["country"]})
    return buffer.getvalue().encode("utf-8")
