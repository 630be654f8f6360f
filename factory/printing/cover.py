"""The cover page of a print file: what the operator checks before loading the inserter.

Takes a `Batch` and the run's labels; gives a one-page PDF (WeasyPrint, DejaVu Sans from the
system fonts) with the batch id, job, period, file name, counts (envelopes, documents, sheets,
pages, blank pages), duplex or simplex, and the first and last envelopes' postal codes.
Deterministic: no timestamp, a fixed PDF identifier.
"""

from __future__ import annotations

import html
import logging

from factory.printing.plan import Batch

logging.getLogger("weasyprint").setLevel(logging.ERROR)

_CSS = """
@page { size: A4; margin: 25mm; }
body { font-family: "DejaVu Sans", sans-serif; font-size: 11pt; }
h1 { font-size: 22pt; margin: 0 0 2mm; }
p.sub { color: #555; margin: 0 0 10mm; }
table { border-collapse: collapse; width: 100%; }
th { text-align: left; font-weight: normal; color: #555; width: 45%; padding: 2mm 0; }
td { font-weight: bold; padding: 2mm 0; border-bottom: 0.2mm solid #ccc; }
"""


def cover_pdf(batch: Batch, *, job: str, period: str, file_name: str, duplex: bool,
              batches: int) -> bytes:
    import weasyprint

    first, last = batch.envelopes[0].address, batch.envelopes[-1].address
    rows = [
        ("Print file", file_name),
        ("Job / period", f"{job} / {period}"),
        ("Batch", f"{batch.number} of {batches}"),
        ("Envelopes", f"{len(batch.envelopes)} (sequence 1 to {len(batch.envelopes)})"),
        ("Documents", str(batch.documents)),
        ("Sheets", f"{batch.sheets} ({'duplex' if duplex else 'simplex'})"),
        ("Pages", f"{batch.pages} (of which {batch.blanks} blank)"),
        ("First envelope", f"{first.country} {first.postal_code} {first.city}"),
        ("Last envelope", f"{last.country} {last.postal_code} {last.city}"),
    ]
    body = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>"
                   for k, v in rows)
    page = (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            f"<title>Print file {html.escape(batch.batch_id)}</title>"
            f"<style>{_CSS}</style></head><body>"
            f"<h1>Print file {html.escape(batch.batch_id)}</h1>"
            f"<p class='sub'>Cover sheet: do not insert. Documents follow in the print file.</p>"
            f"<table>{body}</table></body></html>")
    return bytes(weasyprint.HTML(string=page).write_pdf(
        pdf_identifier=batch.batch_id.encode("ascii")))
