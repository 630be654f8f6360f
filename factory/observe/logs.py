"""Structured logs: one JSON object per line (or a plain line), with the work's context.

Takes log records of the ``docfactory`` loggers; gives lines on standard error. `configure`
is called by the edges (``--log-format auto|json|text``, ``--log-level``): ``auto`` is JSON when
standard error is not a terminal. The choice is exported in ``FACTORY_LOG_FORMAT`` and
``FACTORY_LOG_LEVEL`` because worker processes (the pool's fork server, Celery's prefork
children) start without the parent's logging set up; `ensure_configured` applies it there on
their first line. Every string in a line is masked by `factory.urls.mask_urls_in`, the function
the reports use, so a URL with a password never reaches a log.

A line of record work (`logged_outcome`, around ``Worker.process``) carries ``run_id``,
``job``, ``period``, ``record`` (the key), ``channel`` (each channel's status), ``worker``
(host-pid) and the outcome; done records log at INFO, failed ones at WARNING with the reason.
Hand-written on the standard library: `logging.Formatter` and `json` are all it takes.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import socket
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TextIO, TypeVar

from factory.models import Outcome, Record, Status
from factory.urls import mask_urls_in

LOGGER = "docfactory"
#: Context attributes a log record may carry (``extra={...}``), in the order they are shown.
CONTEXT = ("run_id", "job", "period", "record", "channel", "worker", "status", "reason",
           "firing")
FORMAT_ENV, LEVEL_ENV = "FACTORY_LOG_FORMAT", "FACTORY_LOG_LEVEL"
F = TypeVar("F", bound=Callable[..., Any])


def _masked(value: Any) -> Any:
    if isinstance(value, str):
        return mask_urls_in(value)
    if isinstance(value, dict):
        return {k: _masked(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_masked(v) for v in value]
    return value


class JsonFormatter(logging.Formatter):
    """``{"ts", "level", "logger", "message", <context>..., "exc"}`` on one line."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(), "logger": record.name,
            "message": mask_urls_in(record.getMessage()),
        }
        for name in CONTEXT:
            if hasattr(record, name):
                line[name] = _masked(getattr(record, name))
        if record.exc_info:
            line["exc"] = mask_urls_in(self.formatException(record.exc_info))
        return json.dumps(line, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """``time level logger: message key=value ...``, masked."""

    def format(self, record: logging.LogRecord) -> str:
        context = " ".join(f"{name}={_masked(getattr(record, name))}" for name in CONTEXT
                           if hasattr(record, name))
        stamp = datetime.fromtimestamp(record.created).strftime("%H:%M:%S")
        text = f"{stamp} {record.levelname.lower()} {record.name}: " \
               f"{mask_urls_in(record.getMessage())}"
        if record.exc_info:
            text += "\n" + mask_urls_in(self.formatException(record.exc_info))
        return f"{text} {context}".rstrip()


class StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to the process's own standard error (``sys.__stderr__``), never to a stand-in
    put in ``sys.stderr`` later: Celery's worker replaces it with a proxy that logs what is
    written to it, which would loop back into this handler (and lose the line)."""

    @property
    def stream(self) -> TextIO:
        return sys.__stderr__ or sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        pass


def resolve_format(fmt: str, stream: TextIO) -> str:
    if fmt == "auto":
        return "text" if stream.isatty() else "json"
    return fmt


def configure(fmt: str = "auto", level: str = "info", stream: TextIO | None = None,
              export: bool = True) -> str:
    """Log the ``docfactory`` loggers (and the root's, for libraries) as ``fmt`` at ``level``;
    the format chosen. ``export``: pass the choice on to worker processes started later."""
    chosen = resolve_format(fmt, stream or sys.stderr)
    handler: logging.Handler = StderrHandler() if stream is None else \
        logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter() if chosen == "json" else TextFormatter())
    handler.set_name("docfactory")
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == "docfactory"]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    if export:
        os.environ[FORMAT_ENV], os.environ[LEVEL_ENV] = chosen, level
    return chosen


@functools.cache
def ensure_configured() -> None:
    """In a worker process: the format the edge exported, once (see the module docstring)."""
    fmt = os.environ.get(FORMAT_ENV)
    if any(h.get_name() == "docfactory" for h in logging.getLogger().handlers):
        return  # set up already (a Celery prefork child inherits its parent's)
    if fmt:
        configure(fmt, os.environ.get(LEVEL_ENV) or "info", export=False)
    else:  # nothing asked for: no stray lines from logging's last-resort handler
        logging.getLogger(LOGGER).addHandler(logging.NullHandler())


@functools.cache
def worker_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


def log_outcome(logger: logging.Logger, context: dict[str, Any], outcome: Outcome) -> None:
    failed = outcome.status is Status.FAILED
    level = logging.WARNING if failed else logging.INFO
    if not logger.isEnabledFor(level):
        return
    channels = {c.channel: c.status.value for c in outcome.channels}
    extra = {**context, "record": outcome.key, "status": outcome.status.value,
             "channel": channels, "worker": worker_name()}
    if outcome.reason:
        extra["reason"] = outcome.reason
    message = f"record {outcome.key} {outcome.status.value}"
    if failed:
        message += f": {outcome.reason}"
    logger.log(level, message, extra=extra)


def logged_outcome(process: F) -> F:
    """Decorate ``Worker.process(record, ...)``: one log line per record processed."""
    @functools.wraps(process)
    def wrapper(self: Any, record: Record, *args: Any, **kwargs: Any) -> Outcome:
        outcome: Outcome = process(self, record, *args, **kwargs)
        log_record(self, outcome)
        return outcome

    return wrapper  # type: ignore[return-value]


def log_record(worker: Any, outcome: Outcome) -> None:
    """The log line of one record's outcome (what `logged_outcome` writes), for ``worker``
    (its ``config`` and ``job``): a task's records are logged once their outcomes are final."""
    ensure_configured()
    config = worker.config
    log_outcome(logging.getLogger(f"{LOGGER}.records"),
                {"run_id": config.run_id, "job": worker.job.name, "period": config.period},
                outcome)
