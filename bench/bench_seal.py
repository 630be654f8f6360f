"""What sealing costs per document, beside what rendering it costs.

Renders ``--documents`` (default 30) reference statements with a warm `DocumentRenderer`
(unsealed), then seals each rendered PDF with PAdES B-B, B-T and B-LT using a test PKI and an
RFC 3161 TSA served by certomancer on loopback in a process of its own (so the TSA's work does
not share this process's interpreter). Prints, per document: the median render time, the median
sealing time per profile and its share of the render time, and the TSA round trip alone (what a
real, remote TSA replaces). Target (issue 16): B-B and B-T under 10% of rendering.
"""

from __future__ import annotations

import argparse
import multiprocessing
import shutil
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from factory.config import load_settings  # noqa: E402
from factory.jobs import RecordSchema, load_job  # noqa: E402
from factory.jobs.seal import SealSpec  # noqa: E402
from factory.models import Period, Record  # noqa: E402
from factory.pipeline.document import DocumentRenderer  # noqa: E402
from factory.render.seal import Sealer  # noqa: E402
from factory.runner.plan import plan_records  # noqa: E402
from factory.samples.customers import generate  # noqa: E402
from factory.sources import SeenKeys, open_source  # noqa: E402
from tests.conftest import csv_source, write_job  # noqa: E402


def _serve(folder: Path, queue, stop) -> None:  # type: ignore[no-untyped-def]
    """The test PKI and TSA, in this child process only. certomancer parses its TSA key again
    for every timestamp (~60 ms with cryptography's RSA key checks), which no production TSA
    does; here the parsed key is cached, so the figure is the protocol's cost, not the tool's."""
    import functools

    from cryptography.hazmat.primitives import serialization

    from tests.sealkit import serve_pki

    parse = serialization.load_der_private_key
    cached = functools.lru_cache(maxsize=16)(
        lambda data, password=None: parse(data, password=password))
    serialization.load_der_private_key = lambda data, password=None, **_kw: cached(
        bytes(data), password)

    with serve_pki(folder) as pki:
        queue.put(pki)
        stop.wait(600)


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--documents", type=int, default=30)
    args = parser.parse_args()
    root = REPO / "var" / "bench" / "seal"
    shutil.rmtree(root, ignore_errors=True)
    context = multiprocessing.get_context("spawn")
    queue, stop = context.Queue(), context.Event()
    server = context.Process(target=_serve, args=(root / "pki", queue, stop), daemon=True)
    server.start()
    try:
        run(root, args.documents, queue.get(timeout=120))
    finally:
        stop.set()
        server.join(10)
        shutil.rmtree(root, ignore_errors=True)


def run(root: Path, count: int, pki) -> None:  # type: ignore[no-untyped-def]
    sample = root / "sample"
    generate(count, sample, seed=1, period="2026-11", fmt="csv")
    job = load_job(write_job(root / "jobs", source=csv_source(sample / "customers.csv",
                                                              sample / "transactions.csv")))
    settings = load_settings(REPO, {}, var_dir=str(root / "var"))
    period = Period.parse("2026-11")
    renderer = DocumentRenderer(job, settings, period, period.end)
    with SeenKeys(root / "tmp") as seen:
        records = [r for r in plan_records(open_source(job, settings), RecordSchema(job), seen)
                   if isinstance(r, Record)]
    renderer.render(records[0], "warm-up")
    render_times, artifacts = [], []
    for number, record in enumerate(records):
        start = time.perf_counter()
        _html, artifact = renderer.render(record, f"bench-{number}")
        render_times.append(time.perf_counter() - start)
        artifacts.append(artifact)
    render = median_ms(render_times)
    pages = sum(a.page_count or 0 for a in artifacts) / len(artifacts)
    print(f"seal cost per document ({len(artifacts)} reference statements, {pages:.1f} pages"
          f" on average, TSA: certomancer on loopback in its own process)")
    print(f"  render (warm, PDF/A-3b, tagged): {render:.0f} ms median")
    secrets = {"FACTORY_SEAL_PASSWORD": pki.password}
    for profile in ("B-B", "B-T", "B-LT"):
        spec = SealSpec(profile=profile, key=str(pki.seal_p12),
                        tsa_url=pki.tsa_url if profile != "B-B" else None,
                        trust=[str(pki.root_pem)] if profile == "B-LT" else [])
        sealer = Sealer(spec, secrets, REPO)
        sealer.seal(artifacts[0])  # warm: imports, first TLS-free connection
        times = []
        for artifact in artifacts:
            start = time.perf_counter()
            sealer.seal(artifact)
            times.append(time.perf_counter() - start)
        cost = median_ms(times)
        met = "met" if cost < render / 10 else "NOT met"
        target = "" if profile == "B-LT" else f" (target < 10%: {met})"
        print(f"  seal {profile}: {cost:.1f} ms median = {cost / render * 100:.1f}% of"
              f" rendering{target}")
        if profile == "B-T":
            tsa_round_trip(sealer, render)


def tsa_round_trip(sealer: Sealer, render: float) -> None:
    import hashlib

    times = []
    for number in range(20):
        digest = hashlib.sha256(str(number).encode()).digest()
        start = time.perf_counter()
        # on the sealer's own loop and kept-alive session, as its seals are made
        sealer.kept.run(sealer.timestamper.async_timestamp(digest, "sha256"), timeout=60)
        times.append(time.perf_counter() - start)
    trip = median_ms(times)
    print(f"    of which the TSA round trip (request, certomancer signs, reply): {trip:.1f} ms"
          f" = {trip / render * 100:.1f}% of rendering")


if __name__ == "__main__":
    main()
