"""The factory beside headless Chromium on the reference statement, as whole processes.

Workload: `docfactory sample-data` seed 2026, ``--documents`` (default 120) customers, period
2026-11, jobs/monthly_statements.toml.

  factory   `docfactory run` with 2 workers (local pool), as shipped: PDF/A-3b, tagged, archived
            and indexed; the HTML is rendered from the records inside the run.
  chromium  Debian's headless Chromium (/usr/bin/chromium, driven by Playwright for Python)
            printing the same HTML to PDF (the factory's HTML rendered once beforehand, CSS
            inlined, fonts and logo from the same folders) on 2 pages in parallel, each in its
            own browser context; a fresh process that starts the browser, prints every document
            and writes each PDF to disk. Chromium writes plain, untagged PDF (no PDF/A).

Both are timed from process start to exit (wall seconds), and their CPU seconds (user + system
of the process and every descendant it reaped: the pool's workers, the browser's renderer and
GPU processes) are read from ``RUSAGE_CHILDREN``. Rounds alternate (factory, chromium; chromium,
factory; ...), the best round of each counts; every round goes to var/bench/chromium.json.
Prints docs/s each, the ratio factory / chromium (goal: >= 1.2) and the CPU seconds per
document. No Chromium at /usr/bin/chromium (or ``BENCH_CHROMIUM``) is a failure, not a skip:
install it with scripts/system-deps.sh.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from bench import factory_run, prepare_bare_loop  # noqa: E402
from factory.samples.customers import generate  # noqa: E402

CHROMIUM = os.environ.get("BENCH_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--allow-file-access-from-files"]
WORK = REPO / "var" / "bench" / "chromium"

# The browser side, in a fresh process: launch, print every file on PAGES pages at once.
PRINT = r"""
import asyncio, json, sys
from pathlib import Path
from playwright.async_api import async_playwright

files = json.loads(Path(sys.argv[1]).read_text())
out, executable = Path(sys.argv[2]), sys.argv[3]
args, pages = json.loads(sys.argv[4]), int(sys.argv[5])

async def main():
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=executable, args=args)
        queue = asyncio.Queue()
        for name in files:
            queue.put_nowait(name)

        async def lane():
            context = await browser.new_context()
            page = await context.new_page()
            while not queue.empty():
                name = queue.get_nowait()
                await page.goto(Path(name).as_uri(), wait_until="load")
                pdf = await page.pdf(prefer_css_page_size=True, print_background=True)
                (out / (Path(name).stem + ".pdf")).write_bytes(pdf)
            await context.close()

        await asyncio.gather(*(lane() for _ in range(pages)))
        await browser.close()

asyncio.run(main())
"""


def _subreaper() -> None:
    """Become the reaper of orphaned descendants (Linux prctl PR_SET_CHILD_SUBREAPER), so that
    processes their parent left behind are still counted in RUSAGE_CHILDREN once reaped."""
    import ctypes

    if ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0) != 0:
        raise SystemExit("error: prctl(PR_SET_CHILD_SUBREAPER) failed")


def _reap() -> None:
    """Wait for every descendant still alive or unreaped (they all end with their run)."""
    while True:
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            return


def _cpu_children() -> float:
    _reap()
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def write_html(payload: Path, folder: Path) -> list[str]:
    """The bare loop's HTML (CSS inlined) as files, with a <base> so relative URLs resolve."""
    data = json.loads(payload.read_text(encoding="utf-8"))
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    names = []
    for number, html in enumerate(data["html"]):
        path = folder / f"{number:04d}.html"
        path.write_text(html.replace("<head>", f'<head><base href="{data["base_url"]}">', 1),
                        encoding="utf-8")
        names.append(str(path))
    return names


def chromium_run(files: list[str], pages: int) -> dict:
    out = WORK / "pdf"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    listing, script = WORK / "files.json", WORK / "print.py"
    listing.write_text(json.dumps(files), encoding="utf-8")
    script.write_text(PRINT, encoding="utf-8")
    cpu, started = _cpu_children(), time.perf_counter()
    subprocess.run([sys.executable, str(script), str(listing), str(out), CHROMIUM,
                    json.dumps(ARGS), str(pages)], check=True)
    wall = time.perf_counter() - started
    written = sorted(out.glob("*.pdf"))
    if len(written) != len(files) or any(not p.read_bytes().startswith(b"%PDF") for p in written):
        raise SystemExit(f"chromium wrote {len(written)} PDFs for {len(files)} documents")
    pdf_pages = sum(_page_count(p) for p in written)
    return {"docs_per_s": len(files) / wall, "seconds": wall, "pages": pdf_pages,
            "cpu_seconds": _cpu_children() - cpu}


def _page_count(path: Path) -> int:
    from pypdf import PdfReader

    return len(PdfReader(path).pages)


def factory(data: Path, workers: int, documents: int) -> dict:
    cpu = _cpu_children()
    run = factory_run(workers, data, WORK / "run")
    counts = run["report"]["counts"]
    if counts["archived"] != documents:
        raise SystemExit(f"factory archived {counts['archived']} of {documents}: {counts}")
    return {"docs_per_s": documents / run["wall_seconds"], "seconds": run["wall_seconds"],
            "pages": counts["pages"], "cpu_seconds": _cpu_children() - cpu,
            "run_docs_per_s": documents / run["report"]["elapsed_seconds"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--documents", type=int, default=120)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2, help="factory workers and browser pages")
    args = parser.parse_args()
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        raise SystemExit(f"error: no Chromium at {CHROMIUM}: run scripts/system-deps.sh"
                         " (Debian package chromium) or set BENCH_CHROMIUM")
    _subreaper()
    WORK.mkdir(parents=True, exist_ok=True)
    data = WORK / "data"
    shutil.rmtree(data, ignore_errors=True)
    generate(args.documents, data, seed=2026, period="2026-11", fmt="csv")
    files = write_html(prepare_bare_loop(data, WORK / "bare"), WORK / "html")

    measures = {"factory": lambda: factory(data, args.workers, args.documents),
                "chromium": lambda: chromium_run(files, args.workers)}
    rounds: dict[str, list[dict]] = {}
    order = list(measures)
    for number in range(args.rounds):
        for name in order if number % 2 == 0 else order[::-1]:
            outcome = measures[name]()
            rounds.setdefault(name, []).append(outcome)
            print(f"  round {number + 1}: {name:<9} {outcome['docs_per_s']:.2f} docs/s"
                  f" ({outcome['seconds']:.1f} s, {outcome['cpu_seconds']:.1f} CPU s)",
                  flush=True)
    best = {name: min(rs, key=lambda r: r["seconds"]) for name, rs in rounds.items()}
    f, c = best["factory"], best["chromium"]
    load = os.getloadavg()
    print(f"\nReference statement, {args.documents} documents, {args.workers} workers / pages,"
          f" best of {args.rounds} rounds, load average {load[0]:.1f}")
    print(f"  factory (PDF/A-3b, tagged, archived)  {f['docs_per_s']:6.2f} docs/s"
          f"  {f['cpu_seconds'] / args.documents * 1000:6.0f} ms CPU/doc  {f['pages']} pages")
    print(f"  chromium (plain PDF)                  {c['docs_per_s']:6.2f} docs/s"
          f"  {c['cpu_seconds'] / args.documents * 1000:6.0f} ms CPU/doc  {c['pages']} pages")
    print(f"  factory / chromium: {f['docs_per_s'] / c['docs_per_s']:.2f} wall (goal >= 1.2),"
          f" {c['cpu_seconds'] / f['cpu_seconds']:.2f} by CPU seconds")
    result = {"documents": args.documents, "workers": args.workers, "load": load,
              "date": time.strftime("%Y-%m-%d %H:%M"), "rounds": rounds, "best": best}
    (REPO / "var" / "bench" / "chromium.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
