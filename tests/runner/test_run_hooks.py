"""The steps around a run are hooks (`factory.runner.hooks`): every event is emitted once and
in order, a hook added in one line takes part in every run, a failing after_run hook becomes a
warning, and a before_run hook can refuse a run before it is registered."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest

from factory.archive import open_index
from factory.config import Settings
from factory.errors import ConfigError, FactoryError
from factory.executors import InlineExecutor
from factory.runner import RunOptions, run_job
from factory.runner.hooks import DEFAULT_HOOKS, Hook, Hooks, add_hook, default_hooks


class Recorder(Hook):
    events: ClassVar[list[tuple[str, Any]]] = []

    def before_run(self, run):
        self.events.append(("before_run", run.index.runs.get(run.report.run_id)))

    def after_start(self, run):
        self.events.append(("after_start", run.index.runs.get(run.report.run_id).status))

    def after_chunk(self, run, outcomes):
        self.events.append(("after_chunk", len(outcomes)))

    def after_records(self, run):
        self.events.append(("after_records", run.report.counts.archived))

    def after_run(self, run):
        self.events.append(("after_run", run.report.finished_at is not None))
        raise FactoryError("the notification service is down")


def test_hooks_see_every_event_once_in_order_and_a_failing_after_run_is_a_warning(
        sample_job, settings: Settings) -> None:
    Recorder.events = []
    add_hook(Recorder)
    try:
        report = run_job(sample_job, settings, RunOptions(period="2026-11", limit=3,
                                                          chunk_size=2), InlineExecutor())
    finally:
        DEFAULT_HOOKS.remove(Recorder)
    assert Recorder.events == [("before_run", None), ("after_start", "running"),
                               ("after_chunk", 2), ("after_chunk", 1), ("after_records", 3),
                               ("after_run", True)]
    assert "Recorder: the notification service is down" in report.warnings
    assert report.counts.archived == 3
    assert Recorder not in DEFAULT_HOOKS and len(default_hooks().hooks) == len(DEFAULT_HOOKS)


def test_a_before_run_hook_refuses_the_run_before_it_is_registered(
        sample_job, settings: Settings) -> None:
    class Refuse(Hook):
        def before_run(self, run):
            raise ConfigError("not today")

    with pytest.raises(ConfigError, match="not today"):
        run_job(sample_job, settings, RunOptions(period="2026-11", limit=1), InlineExecutor(),
                hooks=Hooks([Refuse()]))
    index = open_index(settings.default_index_url)
    assert index.runs.recent() == []
    index.close()
