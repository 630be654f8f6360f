"""Prometheus metrics of runs, records and workers, with ``prometheus-client``.

Takes the running `RunReport` of a run (through `observe_run`, a `Progress` wrapper the runner
puts around its progress display) and timings from workers (`timed`, `retried`); gives the
metrics below in the process's registry, or, when ``PROMETHEUS_MULTIPROC_DIR`` is set (the
HTTP service and ``docfactory worker``, whose records are processed in child processes), in
that folder's files, which `exposition` merges. Without ``prometheus-client`` installed every
call is a no-op.

    docfactory_records_total{job,document_type,outcome}      read, rejected, rendered,
                                                             archived, skipped, failed
    docfactory_channel_records_total{job,document_type,channel,status}
    docfactory_deliveries_total{job,channel,status}          sent, queued, failed, suppressed
    docfactory_record_problems_total{job,document_type,kind,reason}   kind: rejected | failed;
                                                             reason: its kind, numbers as N
    docfactory_pages_total{job,document_type}
    docfactory_records_in_flight{job}                        read, not yet settled
    docfactory_run_records_expected{job} / _done{job}        for rate and ETA panels
    docfactory_runs_total{job,status}
    docfactory_last_success_timestamp_seconds{job}           a run completed (or with problems)
    docfactory_render_seconds{job,document_type}             histogram, per document
    docfactory_archive_seconds{job,document_type}            histogram, per document
    docfactory_retries_total{job,channel}
    docfactory_queue_depth{queue}                            tasks waiting on the broker

Counters are fed from the report's counts as they change (after every chunk) and from its
reason tallies when the run settles, so a scrape after a run equals its report.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import fields
from typing import Any

from factory.models import ChannelCounts, Counts, RunReport

#: Outcomes counted per record: the report's count fields they come from.
RECORD_FIELDS = {"read": "input", "rejected": "rejected", "rendered": "rendered",
                 "archived": "archived", "skipped": "skipped", "failed": "failed"}
#: Statuses of the delivery channels (anything but the PDF) and the counts they sum.
DELIVERY_STATUSES = {"sent": ("sent",), "queued": ("queued",),
                     "failed": ("failed_retryable", "failed_permanent"),
                     "suppressed": ("suppressed",)}
#: Run statuses after which the job counts as having succeeded (rejects/failures included).
SUCCESS = {"completed"}
_RUN_LOG = logging.getLogger("docfactory.runs")
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0)


def reason_kind(reason: str) -> str:
    """A reason as a label value: numbers as N, at most 80 characters (bounded cardinality)."""
    return re.sub(r"\d+", "N", reason)[:80]


class _Metrics:
    def __init__(self) -> None:
        from prometheus_client import Counter, Gauge, Histogram

        self.records = Counter("docfactory_records", "Records by outcome",
                               ["job", "document_type", "outcome"])
        self.channels = Counter("docfactory_channel_records", "Records per channel by status",
                                ["job", "document_type", "channel", "status"])
        self.deliveries = Counter("docfactory_deliveries", "Deliveries by status",
                                  ["job", "channel", "status"])
        self.problems = Counter("docfactory_record_problems",
                                "Rejected and failed records by reason kind",
                                ["job", "document_type", "kind", "reason"])
        self.pages = Counter("docfactory_pages", "Pages archived", ["job", "document_type"])
        self.in_flight = Gauge("docfactory_records_in_flight", "Records read, not yet settled",
                               ["job"], multiprocess_mode="livesum")
        self.expected = Gauge("docfactory_run_records_expected",
                              "Records the running run of the job expects (0: unknown)",
                              ["job"], multiprocess_mode="livesum")
        self.done = Gauge("docfactory_run_records_done",
                          "Records the running run of the job has settled",
                          ["job"], multiprocess_mode="livesum")
        self.runs = Counter("docfactory_runs", "Runs ended, by status", ["job", "status"])
        self.last_success = Gauge("docfactory_last_success_timestamp_seconds",
                                  "When a run of the job last ended completed",
                                  ["job"], multiprocess_mode="max")
        self.render = Histogram("docfactory_render_seconds", "Rendering one document",
                                ["job", "document_type"], buckets=LATENCY_BUCKETS)
        self.archive = Histogram("docfactory_archive_seconds",
                                 "Storing one document and its record snapshot",
                                 ["job", "document_type"], buckets=LATENCY_BUCKETS)
        self.retries = Counter("docfactory_retries", "Retried channel attempts",
                               ["job", "channel"])


#: The collectors of this process, once created (None: prometheus_client is not installed).
_CREATED: dict[str, _Metrics | None] = {}
_CREATING = threading.Lock()


def _metrics() -> _Metrics | None:
    # Created under a lock: two threads (Celery's threads pool) creating them at once made
    # the second registration fail with "Duplicated timeseries".
    if "metrics" not in _CREATED:
        with _CREATING:
            if "metrics" not in _CREATED:
                try:
                    _CREATED["metrics"] = _Metrics()
                except ImportError:
                    _CREATED["metrics"] = None
    return _CREATED["metrics"]


def enabled() -> bool:
    return _metrics() is not None


class RunMetrics:
    """A `Progress` that feeds the metrics from the report, then passes on to ``inner``."""

    def __init__(self, inner: Any, report: RunReport, document_type: str) -> None:
        self.inner = inner
        self.report = report
        self.document_type = document_type
        self._counts = Counts()
        self._channels: dict[str, ChannelCounts] = {}
        self._expected = 0

    def start(self, total: int | None, description: str) -> None:
        report = self.report
        _RUN_LOG.info("run %s started: %s %s, %s records", report.run_id, report.job,
                      report.period, "?" if total is None else total,
                      extra={"run_id": report.run_id, "job": report.job,
                             "period": report.period, "status": "running"})
        metrics = _metrics()
        if metrics is not None and not self.report.dry_run:
            self._expected = total or 0
            metrics.expected.labels(self.report.job).inc(self._expected)
        self.inner.start(total, description)

    def update(self, counts: Counts) -> None:
        self._flush()
        self.inner.update(counts)

    def finish(self, counts: Counts) -> None:
        self._flush(final=True)
        report = self.report
        _RUN_LOG.log(logging.INFO if report.status == "completed" else logging.WARNING,
                     "run %s %s: %s", report.run_id, report.status,
                     counts.reconciliation_line(report.pending_label),
                     extra={"run_id": report.run_id, "job": report.job,
                            "period": report.period, "status": report.status,
                            "reason": report.error or report.stop_reason or None})
        self.inner.finish(counts)

    def _flush(self, final: bool = False) -> None:
        metrics = _metrics()
        report = self.report
        if metrics is None or report.dry_run:
            return
        job, kind = report.job, self.document_type
        now, before = report.counts, self._counts
        for outcome, name in RECORD_FIELDS.items():
            step = getattr(now, name) - getattr(before, name)
            if step > 0:
                metrics.records.labels(job, kind, outcome).inc(step)
        if now.pages > before.pages:
            metrics.pages.labels(job, kind).inc(now.pages - before.pages)
        settled = now.archived + now.failed + now.skipped
        metrics.done.labels(job).inc(settled - (before.archived + before.failed
                                                + before.skipped))
        in_flight = now.input - now.rejected - settled
        old = before.input - before.rejected - (before.archived + before.failed
                                                 + before.skipped)
        metrics.in_flight.labels(job).inc((0 if final else in_flight) - old)
        for channel, counts in report.channels.items():
            seen = self._channels.setdefault(channel, ChannelCounts())
            for field in fields(ChannelCounts):
                step = getattr(counts, field.name) - getattr(seen, field.name)
                if step > 0:
                    metrics.channels.labels(job, kind, channel, field.name).inc(step)
            if channel != "pdf":
                for status, names in DELIVERY_STATUSES.items():
                    step = sum(getattr(counts, n) - getattr(seen, n) for n in names)
                    if step > 0:
                        metrics.deliveries.labels(job, channel, status).inc(step)
            self._channels[channel] = ChannelCounts(
                **{f.name: getattr(counts, f.name) for f in fields(ChannelCounts)})
        self._counts = Counts(**{f.name: getattr(now, f.name) for f in fields(Counts)})
        if final:
            self._finish(metrics)

    def _finish(self, metrics: _Metrics) -> None:
        report, job, kind = self.report, self.report.job, self.document_type
        for problem, tally in (("rejected", report.reject_reasons),
                               ("failed", report.failure_reasons)):
            for reason, count in tally.items():
                metrics.problems.labels(job, kind, problem, reason_kind(reason)).inc(count)
        metrics.expected.labels(job).dec(self._expected)
        metrics.done.labels(job).dec(self._counts.archived + self._counts.failed
                                     + self._counts.skipped)
        status = report.status
        metrics.runs.labels(job, status).inc()
        if status in SUCCESS:
            metrics.last_success.labels(job).set(time.time())



def observe_run(progress: Any, report: RunReport, document_type: str) -> Any:
    """``progress`` wrapped so the run's counts feed the metrics (the runner's one call)."""
    return RunMetrics(progress, report, document_type)


@contextmanager
def timed(stage: str, job: str, document_type: str) -> Iterator[None]:
    """Time one document's ``render`` or ``archive`` stage into its histogram."""
    metrics = _metrics()
    if metrics is None:
        yield
        return
    start = time.perf_counter()
    try:
        yield
    finally:
        histogram = metrics.render if stage == "render" else metrics.archive
        histogram.labels(job, document_type).observe(time.perf_counter() - start)


def retried(job: str, channel: str) -> None:
    metrics = _metrics()
    if metrics is not None:
        metrics.retries.labels(job, channel).inc()


class QueueDepth:
    """A collector asking the broker, at each scrape, how many tasks wait on ``queue``."""

    def __init__(self, queue: str, read: Callable[[], int | None]) -> None:
        self.queue = queue
        self.read = read

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        family = GaugeMetricFamily("docfactory_queue_depth", "Tasks waiting on the broker",
                                   labels=["queue"])
        try:
            depth = self.read()
        except Exception:  # a broker that does not answer: no sample, /readyz says why
            depth = None
        if depth is not None:
            family.add_metric([self.queue], depth)
        yield family


def registry(*extra: Any) -> Any:
    """The registry to expose: this process's, or (multiprocess mode) every process's files."""
    from prometheus_client import REGISTRY, CollectorRegistry, multiprocess

    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        chosen: Any = REGISTRY
        if extra:
            chosen = CollectorRegistry()
            for collector in (REGISTRY, *extra):
                chosen.register(collector)
        return chosen
    chosen = CollectorRegistry()
    multiprocess.MultiProcessCollector(chosen)  # type: ignore[no-untyped-call]
    for collector in extra:
        chosen.register(collector)
    return chosen


def exposition(*extra: Any) -> tuple[bytes, str]:
    """(body, content type) of a scrape."""
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    return generate_latest(registry(*extra)), CONTENT_TYPE_LATEST


def serve_metrics(port: int, host: str = "0.0.0.0", *extra: Any) -> int:  # noqa: S104
    """Serve ``/metrics`` on ``port`` in a thread (``worker --metrics-port``); the bound port."""
    from prometheus_client import start_http_server

    server, _thread = start_http_server(port, host, registry(*extra))
    return int(server.server_port)


def process_dead(pid: int) -> None:
    """Multiprocess mode: a child process ended (its live gauges stop counting)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]
