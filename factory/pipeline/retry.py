"""The worker's retry policy: one channel of one record, tried again while its error may pass.

Takes the run's ``attempts`` and ``backoff`` (`WorkerConfig`) and, per call, a channel name
and the work (a callable giving a `ChannelOutcome`); gives the `ChannelOutcome`, never a
`FactoryError`, except one that stops the run (``stops_run``: a full disk), which the runner
handles. Built on tenacity:

- a retryable `FactoryError` (index locked, store timeout, SMTP 4xx, gateway 5xx) is tried
  up to ``attempts`` times in all, waiting ``backoff`` seconds before the second try and
  four times longer before each next one (0.2 s, 0.8 s, ... by default); each retry counts in
  the ``retries`` metric (`factory.observe.metrics.retried`). When the tries are used up the
  channel fails, marked retryable, so the next run tries it again;
- a permanent one (template, resource, bad data, a transport's refusal) fails at once;
- `FencedError` (a newer run took the record over) is never retried: the channel is skipped
  and handed over;
- an error with ``stops_run`` is never retried and propagates.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
)

from factory.errors import FactoryError, FencedError, RenderError
from factory.models import ChannelOutcome, ChannelStatus
from factory.observe.metrics import retried

#: Each wait is this many times the one before it.
BACKOFF_FACTOR = 4


def _may_pass(exc: BaseException) -> bool:
    """Worth another try: retryable, and neither fenced nor stopping the run."""
    return (isinstance(exc, FactoryError) and exc.retryable and not exc.stops_run
            and not isinstance(exc, FencedError))


class RetryPolicy:
    """How a worker retries a channel: ``attempts`` tries in all, ``backoff`` seconds first.

    ``sleep`` is how it waits (tenacity's default, `time.sleep`; a test passes its own to see
    the waits without spending them)."""

    def __init__(self, job: str, attempts: int, backoff: float,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.job = job
        self.attempts = max(attempts, 1)
        self.backoff = backoff
        # Built once per worker (not per call: that doubles the cost of a call that succeeds
        # at once, the common case); each call gets its own `RetryCallState`, and tenacity
        # keeps the rest thread-local, so the on-demand service's threads may share it.
        self._retrying = Retrying(
            stop=stop_after_attempt(self.attempts),
            wait=wait_exponential(multiplier=backoff, exp_base=BACKOFF_FACTOR),
            retry=retry_if_exception(_may_pass), before_sleep=self._count, sleep=sleep,
            reraise=True)

    def _count(self, state: RetryCallState) -> None:
        retried(self.job, state.args[0])  # ops: metrics (the channel is the call's argument)

    def run(self, channel: str, work: Callable[[], ChannelOutcome]) -> ChannelOutcome:
        """``work()``'s outcome, tried again while its error may pass (the module docstring)."""
        try:
            result: ChannelOutcome = self._retrying(lambda _channel: work(), channel)
            return result
        except FencedError as exc:
            return ChannelOutcome(channel, ChannelStatus.SKIPPED, reason=str(exc),
                                  handed_over=True)
        except FactoryError as exc:
            if exc.stops_run:  # a full disk: the runner stops the run, not this record
                raise
            return ChannelOutcome(channel, ChannelStatus.FAILED, reason=failure_reason(exc),
                                  retryable=exc.retryable)


def failure_reason(exc: FactoryError) -> str:
    """The reason a failed channel reports: the kind of error, then its message."""
    kind = {
        "TemplateError": "template error",
        "ResourceBlockedError": "blocked resource",
        "IntegrityError": "integrity error",
        "PermanentDeliveryError": "refused",
        "RetryableDeliveryError": "not delivered (retryable)",
        "LegalHoldError": "legal hold",
    }.get(type(exc).__name__)
    if kind is None:
        kind = "render error" if isinstance(exc, RenderError) else type(exc).__name__
    return f"{kind}: {exc}"


__all__ = ["BACKOFF_FACTOR", "RetryPolicy", "failure_reason"]
