"""The Slovak invoice run end to end (jobs/invoice_run_sk.toml): a business customer with a
Peppol id gets its Peppol BIS 3.0 UBL archived as its own document beside the PDF and handed
to the access point (a real HTTP server on loopback), with the receipt in `deliveries`; a
consumer keeps the PDF; an invoice breaking the Slovak requirements takes no number; a rerun
sends nothing again."""

from __future__ import annotations

import threading
import tomllib
from pathlib import Path

import pytest
import tomli_w
from lxml import etree

from factory.archive import delivery_key, open_index, open_store
from factory.config import load_settings
from factory.executors import InlineExecutor
from factory.invoicing.einvoice import xml_from_pdf
from factory.invoicing.validation import validate_xml
from factory.jobs import load_job
from factory.runner import RunOptions, run_job
from tests.conftest import REPO
from tests.invoicing.test_invoices import NS, base, line, write_invoices
from tests.pipeline.test_peppol_delivery import TOKEN, AccessPoint

UBL = {"cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"}


def slovak(key: str, **fields: object) -> dict:
    row = base(key, locale="sk", country="SK", currency="EUR", city="Košice",
               postal_code="040 01", address_line1="Mlynská 2", **fields)
    row["lines"] = row["lines"] or [line("2", "12.3456", "S", "23", "Poradenstvo")]
    return row


ROWS = [
    slovak("I000301", customer_id="C000301", name="Firma s.r.o.",
           buyer_vat_id="SK2020317068", peppol_id="0245:2020317068"),
    slovak("I000302", customer_id="C000302", name="Ján Kováč"),  # a consumer: the PDF only
    # a business on Peppol without its IČ DPH: refused before the number (Slovak CIUS, BT-48)
    slovak("I000303", customer_id="C000303", name="Bez IČ DPH s.r.o.",
           peppol_id="0245:2021863417"),
]


@pytest.fixture
def access_point():
    server = AccessPoint()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def test_slovak_business_invoice_goes_over_peppol(tmp_path: Path, access_point) -> None:
    data = write_invoices(tmp_path / "data" / "invoices_sk.jsonl", ROWS)
    spec = tomllib.loads((REPO / "jobs" / "invoice_run_sk.toml").read_text("utf-8"))
    spec["source"] = {"type": "jsonl", "path": str(data)}
    job_path = tmp_path / "invoice_run_sk.toml"
    job_path.write_text(tomli_w.dumps(spec), encoding="utf-8")
    host, port = access_point.server_address[:2]
    settings = load_settings(REPO, {"FACTORY_PEPPOL_URL":
                                    f"peppol+http://:{TOKEN}@{host}:{port}/api/v1"},
                             var_dir=str(tmp_path / "var"), workers=1)
    job = load_job(job_path)
    report = run_job(job, settings, RunOptions(period="2026-12"), InlineExecutor())
    assert (report.counts.archived, report.counts.failed) == (2, 1) and report.balanced
    index = open_index(settings.default_index_url)
    store = open_store(settings.default_archive_url)
    entries = {(e.record_key, e.channel): e for e in index.documents.entries(job="invoice_run_sk")}
    assert set(entries) == {("I000301", "pdf"), ("I000301", "peppol"), ("I000302", "pdf")}
    assert [(n, k) for n, k, _ in index.numbering.numbers("SK2026")] == \
        [(1, "I000301"), (2, "I000302")]

    ubl_entry = entries[("I000301", "peppol")]
    assert ubl_entry.media_type == "application/xml"
    assert ubl_entry.retention_until.date() == \
        entries[("I000301", "pdf")].retention_until.date()  # the invoice class: 10 years
    ubl = store.get(ubl_entry.storage_key)
    assert access_point.posts[0]["body"] == ubl  # what was sent is what is archived
    assert (access_point.posts[0]["sender"], access_point.posts[0]["receiver"]) == \
        ("0245:2022749619", "0245:2020317068")
    assert [f for f in validate_xml(ubl, "ubl") if f.fatal] == []
    cii = etree.fromstring(xml_from_pdf(store.get(entries[("I000301", "pdf")].storage_key))[1])
    number = cii.xpath("//rsm:ExchangedDocument/ram:ID/text()", namespaces=NS)
    assert etree.fromstring(ubl).xpath("/*/cbc:ID/text()", namespaces=UBL) == number
    key = delivery_key("invoice_run_sk", "2026-12", "I000301", "invoice", "peppol")
    delivery = index.deliveries.get(key)
    assert delivery is not None and delivery.status == "sent"
    assert delivery.message_id == "AP-1" and TOKEN not in str(delivery)
    assert access_point.posts[0]["key"] == key

    failures = Path(report.failures_file).read_text()
    assert "I000303" in failures and "BT-48" in failures

    again = run_job(job, settings, RunOptions(period="2026-12"), InlineExecutor())
    assert again.counts.skipped == 2
    assert len(access_point.posts) == 1  # nothing sent twice


def test_sample_slovak_invoices_run_clean(tmp_path: Path, access_point) -> None:
    from factory.samples.invoices import generate_invoices

    summary = generate_invoices(40, tmp_path / "data", period="2026-12")
    spec = tomllib.loads((REPO / "jobs" / "invoice_run_sk.toml").read_text("utf-8"))
    spec["source"] = {"type": "jsonl", "path": str(summary.files[1])}
    job_path = tmp_path / "invoice_run_sk.toml"
    job_path.write_text(tomli_w.dumps(spec), encoding="utf-8")
    host, port = access_point.server_address[:2]
    settings = load_settings(REPO, {"FACTORY_PEPPOL_URL":
                                    f"peppol+http://:{TOKEN}@{host}:{port}/api/v1"},
                             var_dir=str(tmp_path / "var"), workers=1)
    report = run_job(load_job(job_path), settings, RunOptions(period="2026-12"),
                     InlineExecutor())
    rows = summary.files[1].read_text(encoding="utf-8").splitlines()
    businesses = sum('"peppol_id": "0245:' in row for row in rows)
    assert businesses > 0 and report.counts.failed == 0 and report.counts.rejected == 0
    assert report.counts.archived == len(rows)
    assert len(access_point.documents) == businesses
