"""Cluster commands: ``docfactory worker``, and the cluster options of ``run`` and ``status``.

Takes options and the environment (``FACTORY_BROKER_URL``, ``FACTORY_CLUSTER``,
``FACTORY_TASK_TIME_LIMIT``, ``FACTORY_TASK_RETRIES``); gives a Celery worker process serving
the cluster's queue, `cluster_options` for ``run --executor celery``, and the live counts that
``docfactory status`` shows for a running cluster run.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import click

from factory.cli.app import App, cli, handle_errors
from factory.errors import ConfigError
from factory.executors.cluster import ClusterOptions


def cluster_options(env: Mapping[str, str], broker: str | None = None,
                    name: str | None = None) -> ClusterOptions:
    """The cluster's options from explicit values, then the environment."""
    url = broker or env.get("FACTORY_BROKER_URL")
    if not url:
        raise ConfigError("no broker: set FACTORY_BROKER_URL (e.g. redis://127.0.0.1:6379/0)")
    try:
        time_limit = int(env.get("FACTORY_TASK_TIME_LIMIT") or 600)
        retries = int(env.get("FACTORY_TASK_RETRIES") or 3)
    except ValueError:
        raise ConfigError("FACTORY_TASK_TIME_LIMIT and FACTORY_TASK_RETRIES must be whole"
                          " numbers") from None
    try:
        task_seconds = float(env.get("FACTORY_TASK_SECONDS") or 3.0)
    except ValueError:
        raise ConfigError("FACTORY_TASK_SECONDS must be a number of seconds") from None
    return ClusterOptions(url, name or env.get("FACTORY_CLUSTER") or "docfactory",
                          time_limit=time_limit, retries=retries,
                          task_seconds=task_seconds).check()


@cli.command()
@click.option("-c", "--concurrency", type=click.IntRange(1, 256), default=None,
              help="Worker processes (default: one per core).")
@click.option("--broker", default=None, metavar="URL",
              help="Redis broker URL (default: $FACTORY_BROKER_URL).")
@click.option("--cluster", "name", default=None, metavar="NAME",
              help="Cluster name: queue, Redis key prefix (default: $FACTORY_CLUSTER or"
                   " docfactory).")
@click.option("-n", "--hostname", default=None, help="Node name (default: NAME-PID@host).")
@click.option("-l", "--loglevel", default="info", show_default=True,
              type=click.Choice(["debug", "info", "warning", "error"]))
@click.option("--metrics-port", type=click.IntRange(0, 65535), default=None, metavar="N",
              help="Serve Prometheus /metrics of this worker's processes on port N.")
@click.option("--events/--no-events", default=True, show_default=True,
              help="Send Celery task events (what Flower shows).")
@click.pass_obj
@handle_errors
def worker(app: App, concurrency: int | None, broker: str | None, name: str | None,
           hostname: str | None, loglevel: str, metrics_port: int | None,
           events: bool) -> None:
    """Start a Celery worker that renders, archives and indexes records of cluster runs."""
    app.service_logs()
    from factory.executors.celery_app import configure_worker, make_app
    from factory.executors.pool import default_workers

    settings = app.settings()
    options = cluster_options(os.environ, broker, name)
    if metrics_port is not None:
        worker_metrics(app, settings.var_dir / "metrics" / f"worker-{os.getpid()}",
                       metrics_port)
    # Warm before the pool forks: WeasyPrint, the templates engine and the pipeline are
    # imported once here and shared by every worker process; each process then builds its
    # run's fonts, stylesheets and templates once, on its first task (worker_for).
    import factory.pipeline.worker  # noqa: F401

    configure_worker(settings)
    celery_app = make_app(options)
    gc.collect()
    gc.freeze()
    argv = ["worker", f"--concurrency={concurrency or default_workers()}",
            f"--queues={options.queue}", f"--loglevel={loglevel.upper()}", "--pool=prefork",
            "--prefetch-multiplier=1", "--without-gossip", "--without-mingle",
            f"--hostname={hostname or f'{options.name}-{os.getpid()}@%h'}"]
    if events:
        argv.append("--task-events")
    celery_app.worker_main(argv)


def worker_metrics(app: App, folder: Any, port: int) -> None:
    """Multiprocess metrics for the pool's children, served by this (parent) process."""
    from celery.signals import worker_process_shutdown

    from factory.cli.serve import metrics_dir
    from factory.observe.metrics import enabled, process_dead, serve_metrics

    metrics_dir(folder)  # before any child imports prometheus-client
    if not enabled():
        raise ConfigError("--metrics-port needs the observe extra: pip install"
                          " 'docfactory[observe]'")
    bound = serve_metrics(port)
    app.err.print(f"metrics on http://0.0.0.0:{bound}/metrics", soft_wrap=True)

    def _dead(pid: int | None = None, **_: Any) -> None:
        process_dead(pid or os.getpid())

    worker_process_shutdown.connect(_dead, weak=False)


def live_counts(run_id: str, env: Mapping[str, str]) -> Mapping[str, Any] | None:
    """The live counts of a cluster run from Redis, or None without a broker configured."""
    from factory.executors.live import read_live

    url = env.get("FACTORY_BROKER_URL")
    if not url:
        return None
    options = cluster_options(env)
    return read_live(options.broker_url, options.name, run_id)


def print_live(app: App, run_id: str, live: Mapping[str, Any] | None) -> None:
    if live is None:
        app.out.print("  live: no counts in Redis (set FACTORY_BROKER_URL and FACTORY_CLUSTER"
                      " as on the coordinator)")
        return
    age = datetime.now(UTC).timestamp() - live["updated_at"]
    app.out.print(
        f"  live ({live['state']}, {age:.0f} s ago): {live['done']} of {live['sent']} sent"
        f" record(s) done — archived {live['archived']}, skipped {live['skipped']},"
        f" failed {live['failed']}, pages {live['pages']}; {live['in_flight']} in flight"
        f" on {live['workers']} worker process(es)")
