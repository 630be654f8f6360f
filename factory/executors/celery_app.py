"""The Celery application and its one task: process a chunk of records in a warm worker.

Takes `ClusterOptions` (a Redis broker URL and a cluster name); gives `make_app`, a configured
Celery app with the ``docfactory.process_chunk`` task. The coordinator (`CeleryExecutor`) and
``docfactory worker`` build the same app from the same options. Only this module and
`factory.executors.celery` import Celery, and only when the celery executor is used.

Delivery is at least once, and every step downstream is idempotent and keyed:

- ``acks_late`` with ``retry_on_worker_lost`` (and ``reject_on_worker_lost`` as its fallback): a
  task whose worker process dies (kill -9, out of memory) runs again a second later under the
  same task id, counted as a retry, so a chunk that kills every process it meets fails after
  ``retries`` (its records then fail with the reason) instead of looping forever. The task id
  is the ``holder`` of the record claims it takes, so the new run takes over the dead process's
  claims at once (`ClaimRepository.claim`), and records this run already archived count as archived.
- a memory cap per worker process (``RLIMIT_DATA``, FACTORY_WORKER_MEMORY of the worker machine,
  set as each process starts): a record that needs more fails with that reason and the chunk's
  other records go on; a process that dies outright is replaced by Celery's pool, as above.
- prefetch 1: a worker process holds one task at a time; the coordinator keeps a bounded window.
- a soft time limit per chunk (the records not done fail as retryable) and a hard one; both stay
  under the claim lease (checked by `ClusterOptions.check`), so a live worker's claim never goes
  stale. A worker node killed outright gets its tasks back after the broker's visibility timeout.
- retries with exponential backoff and jitter for retryable errors of our tree only: records
  that failed retryably (after the worker's own quick attempts) go back as a retry of the same
  task, carrying the outcomes already done; an exception of our `RetryableError` tree raised
  around the records (the index unreachable) retries the whole chunk.

The cluster name isolates clusters sharing one Redis: it is the queue name, the prefix of every
Redis key (broker, results, progress) and the name of the control exchange.
"""

from __future__ import annotations

import gc
from typing import Any

from celery import Celery
from celery.exceptions import SoftTimeLimitExceeded
from celery.signals import worker_process_init, worker_process_shutdown
from celery.utils.time import get_exponential_backoff_interval

from factory.config import Settings
from factory.deliver import close_sessions
from factory.errors import RetryableError
from factory.executors.cluster import RETRY_BACKOFF_MAX, ClusterOptions
from factory.executors.limits import cap_memory, memory_failure
from factory.executors.payload import (
    decode_config,
    decode_record,
    encode_outcome,
)
from factory.models import Outcome, Status

TASK = "docfactory.process_chunk"


def _quit_smtp_sessions(**_: Any) -> None:
    """A pool child about to exit ends its SMTP sessions with QUIT (billiard's children leave
    through os._exit, past atexit and multiprocessing's finalizers)."""
    close_sessions()


# Connected by a call, not as decorators: Celery is untyped, and its decorator would make the
# receivers untyped too.
worker_process_shutdown.connect(_quit_smtp_sessions, weak=False)


#: The worker's own settings (its project root and configured URLs), set by the worker entry.
_LOCAL: dict[str, Settings] = {}


def configure_worker(settings: Settings) -> None:
    """Called by ``docfactory worker`` before the pool forks: paths and passwords of this
    machine, used to rebase payload paths and to put back URL passwords."""
    _LOCAL["settings"] = settings


def _cap_memory(**_kwargs: Any) -> None:
    """Each worker process caps its own memory (FACTORY_WORKER_MEMORY of the worker machine)."""
    settings = _LOCAL.get("settings")
    if settings is not None:
        cap_memory(settings.worker_memory_bytes)


worker_process_init.connect(_cap_memory)


def make_app(options: ClusterOptions) -> Celery:
    options.check()
    app = Celery("docfactory", broker=options.broker_url, backend=options.broker_url,
                 set_as_current=False)
    prefix = {"global_keyprefix": options.key_prefix}
    app.conf.update(
        task_serializer="json", result_serializer="json", accept_content=["json"],
        task_default_queue=options.queue,
        task_acks_late=True, task_reject_on_worker_lost=True, task_retry_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_soft_time_limit=options.time_limit, task_time_limit=options.hard_time_limit,
        result_expires=options.result_expires, result_extended=False,
        broker_transport_options={**prefix, "visibility_timeout": options.visibility_timeout},
        result_backend_transport_options=prefix,
        control_exchange=f"{options.name}.control", event_exchange=f"{options.name}.events",
        broker_connection_retry_on_startup=True,
        worker_cancel_long_running_tasks_on_connection_loss=True,
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
    )
    app.task(bind=True, name=TASK, autoretry_for=(RetryableError,), retry_backoff=True,
             retry_backoff_max=RETRY_BACKOFF_MAX, retry_jitter=True,
             max_retries=options.retries, default_retry_delay=1,
             resultrepr_maxsize=160)(process_chunk)
    return app


def process_chunk(task: Any, payload: dict[str, Any]) -> list[dict[str, Any]]:
    """The task: records of ``payload`` through the warm worker of this process and run."""
    from factory.pipeline.worker import worker_for  # already imported by the worker entry

    config = decode_config(payload["config"], _LOCAL.get("settings"))
    records = [decode_record(item) for item in payload["records"]]
    done: list[dict[str, Any]] = list(payload.get("done", []))
    outcomes: list[Outcome] = []
    worker = chunk = None
    limit = (_LOCAL.get("settings") or config.settings).worker_memory_bytes
    try:
        worker = worker_for(config)  # built once per process and run: counts in the limit
        # The records' document slots are claimed in one transaction and completed in one.
        chunk = worker.chunk(records, holder=task.request.id)
        for record in records:  # appended one by one: the time limit may cut in anywhere
            try:
                outcomes.append(chunk.process(record))
            except MemoryError:  # over the cap: this record fails, the others go on
                gc.collect()
                outcomes.append(memory_failure(record, limit))
        outcomes = chunk.settle(outcomes)
    except SoftTimeLimitExceeded:
        seconds = task.soft_time_limit or task.app.conf.task_soft_time_limit
        reason = f"time limit: the chunk took longer than {seconds} s"
        rest = records[len(outcomes):]
        if chunk is not None:  # the records done so far: their documents indexed now
            outcomes = chunk.settle(outcomes)
        if rest and worker is not None:
            # The record in progress was cut off anywhere, even just after its index write.
            outcomes.append(worker.settle_interrupted(rest[0], task.request.id, reason))
            rest = rest[1:]
        outcomes += [Outcome(r.key, r.position, Status.FAILED, retryable=True, reason=reason)
                     for r in rest]
    finally:
        if chunk is not None:  # after any other error: what was done is indexed
            chunk.close()
    retry = [outcome.status is Status.FAILED and outcome.retryable for outcome in outcomes]
    final = [encode_outcome(o) for o, again in zip(outcomes, retry, strict=True) if not again]
    if any(retry) and task.request.retries < task.max_retries:
        countdown = get_exponential_backoff_interval(
            factor=2, retries=task.request.retries, maximum=RETRY_BACKOFF_MAX,
            full_jitter=True)
        retried = {**payload, "done": done + final,
                   "records": [item for item, again in zip(payload["records"], retry,
                                                           strict=True) if again]}
        raise task.retry(kwargs={"payload": retried}, countdown=max(countdown, 1))
    return done + [encode_outcome(outcome) for outcome in outcomes]


__all__ = ["TASK", "ClusterOptions", "configure_worker", "make_app", "process_chunk"]
