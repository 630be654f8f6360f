"""A Celery worker for bench/bench_scale.py: the real `docfactory worker` task, stub rendering.

Run as ``python bench/scale_worker.py THREADS HOSTNAME``, with FACTORY_BROKER_URL,
FACTORY_CLUSTER and FACTORY_INDEX_URL set like any worker, and BENCH_RENDER_DELAY (seconds,
default 0). It installs `StubPdfRenderer` through the documented seam
(`factory.render.engine.use_pdf_renderer`) and then serves the cluster's queue exactly as
``docfactory worker`` does (same app, same task, same claims, store and index writes), except
that its pool is Celery's ``threads`` pool: rendering is a CPU-free sleep, so many simulated
workers fit in one process.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from factory.models import Artifact  # noqa: E402
from factory.render.engine import use_pdf_renderer  # noqa: E402

PDF_MEDIA_TYPE = "application/pdf"


def _fixed_pdf() -> bytes:
    """One small real PDF (one A4 page, rendered once per process by WeasyPrint)."""
    from weasyprint import HTML

    return bytes(HTML(string="<p>bench_scale stub</p>").write_pdf())


class StubPdfRenderer:
    """`PdfRenderer`'s interface; returns the same small PDF after ``BENCH_RENDER_DELAY``."""

    pdf = b""

    def __init__(self, **_options: Any) -> None:
        if not StubPdfRenderer.pdf:
            StubPdfRenderer.pdf = _fixed_pdf()
        self.delay = float(os.environ.get("BENCH_RENDER_DELAY") or 0)

    def render(self, html: str, document_id: str) -> Artifact:
        if self.delay:
            time.sleep(self.delay)
        return Artifact.of("pdf", PDF_MEDIA_TYPE, "pdf", self.pdf, 1)


def main() -> None:
    threads, hostname = int(sys.argv[1]), sys.argv[2]
    use_pdf_renderer(StubPdfRenderer)
    from factory.cli.cluster import cluster_options
    from factory.config import load_settings
    from factory.executors.celery_app import configure_worker, make_app

    options = cluster_options(os.environ)
    configure_worker(load_settings(REPO, os.environ))
    app = make_app(options)
    app.worker_main(["worker", f"--concurrency={threads}", f"--queues={options.queue}",
                     "--loglevel=WARNING", "--pool=threads", "--prefetch-multiplier=1",
                     "--without-gossip", "--without-mingle", "--without-heartbeat",
                     f"--hostname={hostname}"])


if __name__ == "__main__":
    main()
