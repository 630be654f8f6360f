"""`make bench`, print production: print-stream assembly against rendering, same workload.

Reference workload: `factory.samples.customers.generate(200, ..., seed=2026)`, period 2026-11,
rendered once by jobs/monthly_statements.toml (PDF/A-3b, tagged) in this process with the factory's
warm `DocumentRenderer` (rendering time measured). Then print-stream assembly of all of them
(`[print]` select "all", duplex, DataMatrix and OMR marks, batches of 500 sheets): planning,
merging with pikepdf, blank back pages, marks, manifests and cover pages, measured ``--rounds``
times (best kept). Printed: pages/s of both, and assembly time as a share of rendering time
(target: under 5 %). Also written to var/bench/print.json.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from factory.config import load_settings  # noqa: E402
from factory.jobs import RecordSchema, load_job  # noqa: E402
from factory.jobs.print import PrintSpec  # noqa: E402
from factory.models import Period  # noqa: E402
from factory.printing import PostalAddress, PrintItem, build_print_files  # noqa: E402
from factory.samples.customers import generate  # noqa: E402

WORK = REPO / "var" / "bench" / "print"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--customers", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    import tomllib

    import tomli_w

    from factory.pipeline.document import DocumentRenderer
    from factory.runner.plan import plan_records
    from factory.sources import SeenKeys, open_source

    shutil.rmtree(WORK, ignore_errors=True)
    data = WORK / "data"
    generate(args.customers, data, seed=2026, period="2026-11", fmt="csv")
    spec = tomllib.loads((REPO / "jobs" / "monthly_statements.toml").read_text("utf-8"))
    spec["source"] = {"type": "csv", "path": str(data / "customers.csv"),
                      "items": {"path": str(data / "transactions.csv"), "key": "customer_id"}}
    job_path = WORK / "job.toml"
    job_path.write_text(tomli_w.dumps(spec), encoding="utf-8")
    settings = load_settings(REPO, {}, var_dir=str(WORK / "var"))
    job = load_job(job_path)
    renderer = DocumentRenderer(job, settings, Period.parse("2026-11"), date(2026, 12, 1))

    documents: dict[str, bytes] = {}
    items: list[PrintItem] = []
    started = time.perf_counter()
    with SeenKeys(WORK / "tmp") as seen:
        for record in plan_records(open_source(job, settings), RecordSchema(job), seen):
            _html, artifact = renderer.render(record, f"bench-{record.key}")
            key = f"{record.key}.pdf"
            documents[key] = artifact.data
            r = record.data
            items.append(PrintItem(
                f"bench-{record.key}", key, artifact.sha256, record.key, record.customer_id,
                artifact.page_count or 0,
                PostalAddress(r["name"], r["address_line1"], r.get("address_line2") or "",
                              r["postal_code"], r["city"], r["country"]), r))
    render_seconds = time.perf_counter() - started
    render_pages = sum(i.page_count for i in items)

    print_spec = PrintSpec(enabled=True, omr={"enabled": True})
    rounds = []
    for _ in range(args.rounds):
        started = time.perf_counter()
        outputs = build_print_files(items, print_spec, job=job.name, period="2026-11",
                                    fetch=lambda item: documents[item.storage_key],
                                    window=(20, 45, 85, 40))
        rounds.append(time.perf_counter() - started)
    assembly_seconds = min(rounds)
    pages = sum(o.stream.pages for o in outputs)
    share = assembly_seconds / render_seconds
    result = {
        "documents": len(items), "document_pages": render_pages, "print_pages": pages,
        "print_files": len(outputs), "sheets": sum(o.batch.sheets for o in outputs),
        "render_seconds": render_seconds, "render_pages_per_s": render_pages / render_seconds,
        "assembly_seconds": assembly_seconds, "assembly_rounds": rounds,
        "assembly_pages_per_s": pages / assembly_seconds, "assembly_share_of_render": share,
    }
    print(f"\nPrint production: {len(items)} statements, {render_pages} pages rendered;"
          f" {len(outputs)} print file(s), {result['sheets']} sheets, {pages} pages"
          f" with blanks (best of {args.rounds} assembly rounds)")
    print(f"  rendering (1 process, warm)      {result['render_pages_per_s']:8.1f} pages/s"
          f" {render_seconds:7.1f} s")
    print(f"  print-stream assembly            {result['assembly_pages_per_s']:8.1f} pages/s"
          f" {assembly_seconds:7.2f} s  (merge, blanks, DataMatrix + OMR marks,"
          " manifests, covers)")
    print(f"  assembly / rendering time: {share * 100:.1f} %  (target < 5 %)")
    (WORK.parent / "print.json").write_text(json.dumps(result, indent=2), encoding="utf-8")
    print(f"  written to {WORK.parent / 'print.json'}")


if __name__ == "__main__":
    main()
