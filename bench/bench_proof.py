"""`make bench` (proofs): how long `docfactory proof` takes, and where the time goes.

Workload: `docfactory sample-data` with seed 2026, period 2026-11, jobs/monthly_statements.toml.

Prints, and writes to var/bench/proof.json:
  1. edge-case selection: records/s of the one streaming pass over 5,000 customers (CSV with
     a line-item file), and the coordinator's peak RSS growth during it;
  2. a whole proof of the 200-customer input against the same version taken back from the
     archive (the edge cases give 7 records, 14 renderings): seconds and records/s, report
     written;
  3. the per-document cost of each step on those records: WeasyPrint rendering, reading the
     PDF back (PDFium rasterising at 96 dpi + glyph boxes + pypdf text), the pixel diff of a
     page, the layout checks of a document, writing the three PNGs of a page.
Each figure is the best of ``--rounds`` rounds (noise on a shared machine only slows down).
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import sys
import time
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from factory.archive import open_index, open_store  # noqa: E402
from factory.archive.versions import keep_version  # noqa: E402
from factory.config import load_settings  # noqa: E402
from factory.jobs import RecordSchema  # noqa: E402
from factory.jobs.spec import parse_job  # noqa: E402
from factory.models import Period  # noqa: E402
from factory.proofs import ProofOptions, resolve_ref, run_proof, working_tree  # noqa: E402
from factory.proofs.diff import diff_page  # noqa: E402
from factory.proofs.layout import check_layout  # noqa: E402
from factory.proofs.pages import read_pdf  # noqa: E402
from factory.proofs.proof import PNG_LEVEL  # noqa: E402
from factory.proofs.render import ProofRenderer  # noqa: E402
from factory.proofs.select import select_records  # noqa: E402
from factory.samples.customers import generate  # noqa: E402
from factory.sources import open_source  # noqa: E402

WORK = REPO / "var" / "bench" / "proof"
PERIOD = Period.parse("2026-11")
ISSUED = date(2026, 12, 1)


def job_for(data: Path):
    import tomllib

    raw = tomllib.loads((REPO / "jobs" / "monthly_statements.toml").read_text())
    raw["source"] = {"type": "csv", "path": str(data / "customers.csv"),
                     "items": {"path": str(data / "transactions.csv"), "key": "customer_id"}}
    return parse_job(raw, REPO / "jobs" / "monthly_statements.toml")


def best(times: list[float]) -> float:
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    shutil.rmtree(WORK, ignore_errors=True)
    settings = load_settings(REPO, {}, var_dir=str(WORK / "var"), workers=1)
    big, small = WORK / "data-5000", WORK / "data-200"
    generate(5000, big, seed=2026, period="2026-11")
    generate(200, small, seed=2026, period="2026-11")
    results: dict[str, object] = {}

    # 1. selection
    job = job_for(big)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    times = []
    for _ in range(args.rounds):
        start = time.perf_counter()
        selection = select_records(open_source(job, settings), RecordSchema(job), job)
        times.append(time.perf_counter() - start)
    rss_growth = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before
    results["selection"] = {"records": selection.scanned, "seconds": round(best(times), 2),
                            "records_per_second": round(selection.scanned / best(times)),
                            "peak_rss_growth_mib": round(rss_growth / 1024, 1),
                            "picked": len(selection.records)}
    print(f"selection: {selection.scanned} records in {best(times):.2f} s"
          f" = {selection.scanned / best(times):,.0f} records/s,"
          f" peak RSS growth {rss_growth / 1024:.1f} MiB, {len(selection.records)} picked")

    # 2. a whole proof against the archived snapshot of the same version
    job = job_for(small)
    index = open_index(settings.default_index_url)
    store = open_store(settings.default_archive_url)
    current = working_tree(settings)
    keep_version(store, index, load_template_set(settings, job))
    times = []
    for round_ in range(args.rounds):
        scratch = WORK / f"scratch-{round_}"
        scratch.mkdir(parents=True)
        start = time.perf_counter()
        against = resolve_ref(current.version(job)[:12], job,
                              settings, index, store, scratch)
        report = run_proof(job, settings, open_source(job, settings), RecordSchema(job),
                           current, against,
                           ProofOptions(PERIOD, ISSUED, WORK / f"report-{round_}"), index)
        times.append(time.perf_counter() - start)
    records = len(report.records)
    results["proof"] = {"records": records, "seconds": round(best(times), 2),
                        "records_per_second": round(records / best(times), 2),
                        "status": report.status}
    print(f"proof: {records} records (2 renderings each) in {best(times):.1f} s"
          f" = {records / best(times):.2f} records/s, status {report.status}")

    # 3. the steps, per document / page
    new = ProofRenderer(job, settings, current, PERIOD, ISSUED)
    chosen = [p.record for p in select_records(open_source(job, settings), RecordSchema(job),
                                               job).records]
    steps: dict[str, list[float]] = {"render": [], "read_pdf": [], "checks": [],
                                     "diff_page": [], "png_page": []}
    pages_total = 0
    for _ in range(args.rounds):
        sums = dict.fromkeys(steps, 0.0)
        pages_total = 0
        for record in chosen:
            t0 = time.perf_counter()
            rendering = new.proof(record)
            t1 = time.perf_counter()
            pages = read_pdf(rendering.pdf)
            t2 = time.perf_counter()
            check_layout(pages, rendering.html, new.templates.brand, new.coverage)
            t3 = time.perf_counter()
            for page in pages:
                _, overlay = diff_page(page.number, page.image, page.image)
            t4 = time.perf_counter()
            for page in pages:
                for name in ("a", "b"):
                    page.image.save(WORK / f"{name}.png", compress_level=PNG_LEVEL)
                overlay.save(WORK / "c.png", compress_level=PNG_LEVEL)
            t5 = time.perf_counter()
            pages_total += len(pages)
            for name, value in (("render", t1 - t0), ("read_pdf", t2 - t1), ("checks", t3 - t2),
                                ("diff_page", t4 - t3), ("png_page", t5 - t4)):
                sums[name] += value
        for name in steps:
            steps[name].append(sums[name])
    per = {
        "render_ms_per_document": best(steps["render"]) / len(chosen) * 1000,
        "read_pdf_ms_per_document": best(steps["read_pdf"]) / len(chosen) * 1000,
        "checks_ms_per_document": best(steps["checks"]) / len(chosen) * 1000,
        "diff_ms_per_page": best(steps["diff_page"]) / pages_total * 1000,
        "png_ms_per_page": best(steps["png_page"]) / pages_total * 1000,
    }
    results["steps"] = {k: round(v, 1) for k, v in per.items()} | {
        "documents": len(chosen), "pages": pages_total}
    print(f"steps over {len(chosen)} documents, {pages_total} pages:")
    for name, value in per.items():
        print(f"  {name.replace('_', ' ')}: {value:.1f}")
    (WORK.parent / "proof.json").write_text(json.dumps(results, indent=2) + "\n")


def load_template_set(settings, job):
    from factory.templates.templateset import TemplateSet

    return TemplateSet.load(settings.templates_dir, settings.assets_dir, job.template_set,
                            job.brand)


if __name__ == "__main__":
    main()
