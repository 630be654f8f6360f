"""The worker's retry policy (`factory.pipeline.retry`), on plain callables: a retryable error
is tried ``attempts`` times with the backoff, a permanent one once, a fenced record is handed
over, an error that stops the run propagates; and the worker and its payload carry the policy's
settings from `WorkerConfig`."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date

import pytest

from factory.config import Settings
from factory.errors import (
    FencedError,
    NoSpaceError,
    PermanentDeliveryError,
    RetryableArchiveError,
    RetryableDeliveryError,
    TemplateError,
)
from factory.executors.payload import decode_config, encode_config
from factory.models import ChannelOutcome, ChannelStatus
from factory.pipeline import retry
from factory.pipeline.config import WorkerConfig
from factory.pipeline.retry import RetryPolicy

pytestmark = pytest.mark.fast

DONE = ChannelOutcome("email", ChannelStatus.DONE, document_id="d1")


class Work:
    """Raises the given errors in turn, then returns DONE; counts its calls."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.calls = 0

    def __call__(self) -> ChannelOutcome:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return DONE


@pytest.fixture
def counted(monkeypatch) -> list[tuple[str, str]]:
    """The ``retries`` metric's increments, as (job, channel)."""
    seen: list[tuple[str, str]] = []
    monkeypatch.setattr(retry, "retried", lambda job, channel: seen.append((job, channel)))
    return seen


def policy(waits: list[float], attempts: int = 3, backoff: float = 0.2) -> RetryPolicy:
    sleep: Callable[[float], None] = waits.append
    return RetryPolicy("statements", attempts, backoff, sleep=sleep)


def test_a_retryable_error_is_tried_attempts_times_with_the_backoff(counted) -> None:
    waits: list[float] = []
    work = Work(*(RetryableDeliveryError("SMTP 451 try later") for _ in range(4)))
    outcome = policy(waits, attempts=4).run("email", work)
    assert work.calls == 4
    assert waits == pytest.approx([0.2, 0.8, 3.2])  # each wait four times the one before
    assert counted == [("statements", "email")] * 3  # one per retry, none for the last try
    assert outcome.status is ChannelStatus.FAILED and outcome.retryable
    assert outcome.reason == "not delivered (retryable): SMTP 451 try later"
    assert not outcome.handed_over


def test_a_retryable_error_that_passes_gives_the_outcome(counted) -> None:
    waits: list[float] = []
    work = Work(RetryableArchiveError("database is locked"))
    assert policy(waits, backoff=0.5).run("pdf", work) == DONE
    assert work.calls == 2 and waits == [0.5] and counted == [("statements", "pdf")]


@pytest.mark.parametrize(("error", "reason"), [
    (PermanentDeliveryError("550 mailbox unavailable"), "refused: 550 mailbox unavailable"),
    (TemplateError("'total' is undefined"), "template error: 'total' is undefined"),
])
def test_a_permanent_error_is_tried_once(counted, error: Exception, reason: str) -> None:
    waits: list[float] = []
    work = Work(error)
    outcome = policy(waits).run("email", work)
    assert work.calls == 1 and waits == [] and counted == []
    assert outcome.status is ChannelStatus.FAILED and not outcome.retryable
    assert outcome.reason == reason


def test_a_fenced_record_is_skipped_and_handed_over_without_a_retry(counted) -> None:
    waits: list[float] = []
    work = Work(FencedError("run r1 was taken over by r2"))
    outcome = policy(waits).run("pdf", work)
    assert work.calls == 1 and waits == [] and counted == []
    assert outcome == ChannelOutcome("pdf", ChannelStatus.SKIPPED,
                                     reason="run r1 was taken over by r2", handed_over=True)


def test_an_error_that_stops_the_run_propagates_at_once(counted) -> None:
    waits: list[float] = []
    work = Work(NoSpaceError("no space left on device"))
    with pytest.raises(NoSpaceError):
        policy(waits).run("pdf", work)
    assert work.calls == 1 and waits == [] and counted == []


def test_one_attempt_means_no_retry(counted) -> None:
    waits: list[float] = []
    work = Work(RetryableDeliveryError("gateway 503"))
    outcome = policy(waits, attempts=1).run("sms", work)
    assert work.calls == 1 and waits == [] and outcome.retryable


def test_the_policy_settings_travel_to_the_workers(settings: Settings, tmp_path) -> None:
    config = WorkerConfig(job_path=str(tmp_path / "job.toml"), settings=settings,
                          run_id="r1", period="2026-11", issued=date(2026, 12, 1),
                          store_url="memory://", index_url="sqlite://",
                          template_version="v", attempts=5, backoff=0.05)
    seen = decode_config(json.loads(json.dumps(encode_config(config))))
    assert (seen.attempts, seen.backoff) == (5, 0.05)
    assert (WorkerConfig.attempts, WorkerConfig.backoff) == (3, 0.2)  # the defaults
