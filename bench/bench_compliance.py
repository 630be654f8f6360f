"""Compliance paths at archive scale, without rendering: search, verified get, verify, export,
audit appends, and API requests over real HTTP.

Builds a synthetic archive in var/bench/compliance/: ``--documents`` (default 10,000) index
rows over 2,000 customers and 10 monthly periods, each with a 40 KiB stored object (random
bytes, so checksums and zip compression do real work) and a record snapshot, in a file store and
a SQLite index, the way the worker writes them. Prints, with units:
  1. search by customer (+ period range) over the index: median latency in ms;
  2. `get` (read, verify SHA-256, audit): median latency in ms;
  3. `verify --all`: documents/s and MB/s, every object re-read and hashed, orphans scanned;
  4. export of one customer's documents: ms; and of 500 documents: MB/s;
  5. audit appends: entries/s (one transaction each);
  6. HTTP: GET /api/documents and /api/documents/{id}/content through `docfactory serve`,
     requests/s from one client on loopback.
Each figure is the best of ``--rounds`` (default 3): noise on a shared machine only slows
things down.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sqlalchemy import insert  # noqa: E402

from factory.archive import (  # noqa: E402
    open_index,
    open_store,
    record_snapshot_key,
    template_snapshot_key,
)
from factory.archive.tables import documents  # noqa: E402
from factory.compliance import Actor, ComplianceService, DocumentQuery, Role  # noqa: E402
from factory.compliance.keys import create_key  # noqa: E402
from factory.templates.templateset import TemplateSet  # noqa: E402

ACTOR = Actor("cli:bench", "shell")
OBJECT_BYTES = 40 * 1024


def build(root: Path, count: int) -> tuple[str, str]:
    if root.exists():
        shutil.rmtree(root, ignore_errors=True)
    store_url = (root / "archive").as_uri()
    index_url = f"sqlite:///{root / 'index.db'}"
    store = open_store(store_url)
    index = open_index(index_url)
    template = TemplateSet.load(REPO / "templates", REPO / "assets", "statement", "northwind")
    zipped = template.snapshot()
    store.put(template_snapshot_key(template.version), zipped, media_type="application/zip",
              sha256=hashlib.sha256(zipped).hexdigest())
    index.templates.remember(template.version, "statement", "northwind",
                             template_snapshot_key(template.version))
    now = datetime.now(UTC)
    rows = []
    for number in range(count):
        customer = f"C{number % 2000:06d}"
        period = f"2026-{number // 2000 % 10 + 1:02d}"
        doc_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"bench/{number}"))
        key = f"bench_job/{period}/{customer}/{doc_id}.pdf"
        data = os.urandom(OBJECT_BYTES)
        digest = hashlib.sha256(data).hexdigest()
        store.put(key, data, media_type="application/pdf", sha256=digest)
        snapshot = json.dumps({"document_id": doc_id}).encode()
        snap_key = record_snapshot_key(key)
        snap_digest = hashlib.sha256(snapshot).hexdigest()
        store.put(snap_key, snapshot, media_type="application/json", sha256=snap_digest)
        rows.append({
            "document_id": doc_id, "job": "bench_job", "run_id": "bench", "period": period,
            "record_key": customer, "customer_id": customer, "document_type": "statement",
            "channel": "pdf", "locale": "en", "template_version": template.version, "page_count": 2,
            "byte_size": OBJECT_BYTES, "sha256": digest, "storage_key": key,
            "record_storage_key": snap_key, "record_sha256": snap_digest,
            "media_type": "application/pdf", "revision": 1, "created_at": now,
            "retention_until": now + timedelta(days=3650), "legal_hold": False})
        if len(rows) == 1000:
            with index.engine.begin() as conn:
                conn.execute(insert(documents), rows)
            rows = []
    if rows:
        with index.engine.begin() as conn:
            conn.execute(insert(documents), rows)
    index.close()
    return store_url, index_url


def best(rounds: int, function) -> float:  # type: ignore[no-untyped-def]
    return min(function() for _ in range(rounds))


def median_ms(function, times: int) -> float:  # type: ignore[no-untyped-def]
    samples = []
    for _ in range(times):
        start = time.perf_counter()
        function()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--documents", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    root = REPO / "var" / "bench" / "compliance"
    try:
        run(root, args.documents, args.rounds)
    finally:
        shutil.rmtree(root, ignore_errors=True)  # hundreds of MB: never leave it behind


def run(root: Path, documents: int, rounds: int) -> None:
    started = time.perf_counter()
    store_url, index_url = build(root, documents)
    print(f"synthetic archive: {documents:,} documents of {OBJECT_BYTES // 1024} KiB"
          f" ({documents * OBJECT_BYTES / 1e6:,.0f} MB) built in"
          f" {time.perf_counter() - started:.0f} s")
    svc = ComplianceService(open_index(index_url), open_store(store_url))
    ids = [f"C{n:06d}" for n in range(0, 2000, 37)]

    def search() -> float:
        return median_ms(lambda: [svc.search(ACTOR, DocumentQuery.parse(
            customer=c, date_from="2026-03", date_to="2026-08")) for c in ids[:1]], 50)

    print(f"  search by customer + period range: {best(rounds, search):.2f} ms median"
          " (audit entry included)")
    found, _ = svc.search(ACTOR, DocumentQuery.parse(job="bench_job", limit=200))

    def get() -> float:
        return median_ms(lambda: [svc.get(ACTOR, d.document_id) for d in found[:1]], 100)

    print(f"  get (read, verify SHA-256, audit): {best(rounds, get):.2f} ms median")

    def verify() -> float:
        start = time.perf_counter()
        report = svc.verify()
        assert report.ok, report.findings[:3]
        return time.perf_counter() - start

    elapsed = best(rounds, verify)
    print(f"  verify --all: {documents / elapsed:,.0f} documents/s,"
          f" {documents * (OBJECT_BYTES + 40) / elapsed / 1e6:,.0f} MB/s"
          f" ({elapsed:.1f} s for {documents:,} documents and their snapshots)")
    out = root / "exports"
    out.mkdir(exist_ok=True)

    def export(query: DocumentQuery) -> float:
        target = out / f"{uuid.uuid4().hex}.zip"
        start = time.perf_counter()
        svc.export(ACTOR, query, target)
        elapsed = time.perf_counter() - start
        target.unlink()
        return elapsed

    one = best(rounds, lambda: export(DocumentQuery.parse(customer="C000042", limit=None)))
    mine = len(svc.search(ACTOR, DocumentQuery.parse(customer="C000042"))[0])
    print(f"  export of one customer ({mine} documents): {one * 1000:.0f} ms")
    many = best(rounds, lambda: export(DocumentQuery.parse(
        job="bench_job", date_from="2026-01", date_to="2026-01", limit=None)))
    count = min(2000, documents)
    print(f"  export of {count:,} documents: {count * OBJECT_BYTES / many / 1e6:.0f} MB/s"
          f" ({many:.1f} s)")

    def appends() -> float:
        start = time.perf_counter()
        for _ in range(500):
            svc.audit.record(ACTOR, "bench.append", details={"n": 1})
        return 500 / (time.perf_counter() - start)

    print(f"  audit appends: {max(appends() for _ in range(rounds)):,.0f} entries/s"
          " (one transaction each, SQLite WAL)")
    http_figures(root, store_url, index_url, found[0].document_id, rounds)


def http_figures(root: Path, store_url: str, index_url: str, doc_id: str, rounds: int) -> None:
    import httpx

    index = open_index(index_url)
    _info, key = create_key(index, Role.COMPLIANCE, "bench", "bench")
    index.close()
    env = {**os.environ, "FACTORY_HOME": str(REPO), "FACTORY_VAR": str(root / "var"),
           "FACTORY_ARCHIVE_URL": store_url, "FACTORY_INDEX_URL": index_url}
    server = subprocess.Popen([sys.executable, "-m", "factory", "serve", "--port", "0"],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                              text=True)
    try:
        assert server.stdout is not None
        line = server.stdout.readline()
        url = line.split("serving on ", 1)[1].split("/ ", 1)[0]
        server.stdout.close()
        with httpx.Client(base_url=url, headers={"X-API-Key": key}) as client:
            for path, label in (("/api/documents?customer=C000042", "search"),
                                (f"/api/documents/{doc_id}/content", "content (40 KiB)")):

                def rate(path: str = path) -> float:
                    start = time.perf_counter()
                    for _ in range(200):
                        assert client.get(path).status_code == 200
                    return 200 / (time.perf_counter() - start)

                print(f"  HTTP GET {label}: {max(rate() for _ in range(rounds)):,.0f}"
                      " requests/s (one client, loopback, key checked and audited each time)")
    finally:
        server.terminate()
        server.wait(60)


if __name__ == "__main__":
    main()
