"""``docfactory serve``: the HTTP API and the web pages, on one port.

Takes a host and port (``--port 0`` picks a free one), the archive and index URLs and the jobs
folder; prints the address it listens on and serves until Ctrl-C or SIGTERM, then waits for
the runs it started and exits 0. Needs the ``api`` extra (FastAPI, uvicorn).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
from pathlib import Path

import click

from factory.cli.app import App, cli, handle_errors
from factory.cli.archive import ARCHIVE, INDEX
from factory.errors import ConfigError


def listen_socket(host: str, port: int) -> socket.socket:
    """A bound TCP socket (port 0: a free one), made so asyncio turns Nagle off per connection.

    ``IPPROTO_TCP`` must be given explicitly: asyncio sets TCP_NODELAY only on sockets that say
    they are TCP, and without it every keep-alive response waits ~40 ms (Nagle + delayed ACK).
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    return sock


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (put a TLS proxy in front for anything but loopback).")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True,
              help="Port; 0 picks a free one.")
@click.option("--jobs", "jobs_dir", type=click.Path(file_okay=False, path_type=Path),
              default=None, help="Folder of job files that may be started (default: jobs/).")
@click.option("--executor", type=click.Choice(["pool", "inline"]), default="pool",
              show_default=True, help="Where runs started from the API render.")
@click.option("--workers", type=click.IntRange(1, 256), default=None,
              help="Worker processes per run (default: one per core).")
@click.option("--max-runs", type=click.IntRange(1, 64), default=2, show_default=True,
              help="Runs started from the API at the same time.")
@click.option("--ondemand-pool", type=click.IntRange(1, 16), default=None,
              help="Warm renderer processes for POST /api/documents (default: one per core).")
@click.option("--secure-cookies", is_flag=True,
              help="Mark the session cookie Secure (when served over HTTPS).")
@click.option("--broker", default=None, metavar="URL", envvar="FACTORY_BROKER_URL",
              help="Broker /readyz checks and /metrics shows the queue of (default:"
                   " $FACTORY_BROKER_URL).")
@ARCHIVE
@INDEX
@click.pass_obj
@handle_errors
def serve(app: App, host: str, port: int, jobs_dir: Path | None, executor: str,
          workers: int | None, max_runs: int, ondemand_pool: int | None, secure_cookies: bool,
          broker: str | None,
          archive_url: str | None, index_url: str | None) -> None:
    """Serve the HTTP API (/api, OpenAPI at /api/openapi.json) and the web pages.

    Unauthenticated: /healthz, /readyz and /metrics (Prometheus; set FACTORY_METRICS_TOKEN to
    require a bearer token)."""
    try:
        import uvicorn

        from factory.api import ApiConfig, create_app
        from factory.executors.pool import default_workers
    except ImportError as exc:
        raise ConfigError(f"the HTTP API needs the api extra: pip install 'docfactory[api]'"
                          f" ({exc})") from None
    app.service_logs()
    settings = app.settings(archive_url=archive_url, index_url=index_url, workers=workers)
    own_metrics = settings.var_dir / "metrics" / f"serve-{os.getpid()}"
    metrics_dir(own_metrics)
    config = ApiConfig(
        settings=settings,
        store_url=settings.archive_url or settings.default_archive_url,
        index_url=settings.index_url or settings.default_index_url,
        jobs_dir=jobs_dir or settings.root / "jobs",
        executor=executor, workers=settings.workers, max_runs=max_runs,
        secure_cookies=secure_cookies, broker_url=broker,
        queue=os.environ.get("FACTORY_CLUSTER") or "docfactory" if broker else None,
        metrics_token=os.environ.get("FACTORY_METRICS_TOKEN") or None,
        ondemand_pool=ondemand_pool or default_workers())
    api = create_app(config)
    sock = listen_socket(host, port)
    bound = sock.getsockname()[1]
    shown = f"[{host}]" if sock.family == socket.AF_INET6 else host
    app.out.print(f"docfactory serving on http://{shown}:{bound}/ (API under /api, OpenAPI at"
                  f" /api/openapi.json; archive {api.state.services.store.url}, index"
                  f" {api.state.services.index.safe_url})", soft_wrap=True)
    app.out.file.flush()
    server = uvicorn.Server(uvicorn.Config(api, log_level="info", access_log=True,
                                           server_header=False, proxy_headers=False))
    # uvicorn re-raises the stopping signal once it has shut down cleanly.
    with contextlib.suppress(KeyboardInterrupt):
        server.run(sockets=[sock])
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR") == str(own_metrics):
        shutil.rmtree(own_metrics, ignore_errors=True)  # ours: nobody scrapes it any more
    app.err.print("stopped")


def metrics_dir(default: Path) -> Path:
    """Multiprocess metrics (runs render in child processes): ``PROMETHEUS_MULTIPROC_DIR``, or a
    fresh folder of this process's own. Set before prometheus-client is first imported."""
    given = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if given:
        return Path(given)
    shutil.rmtree(default, ignore_errors=True)
    default.mkdir(parents=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(default)
    return default
