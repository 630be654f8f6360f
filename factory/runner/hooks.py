"""The steps around a run's records, as hooks: the runner only runs, the hooks do the rest.

Takes nothing; gives `Hook` (a base class whose methods do nothing: override the events you
need), `RunContext` (what a hook sees), `Hooks` (calls every hook of one event in order, as
dramatiq's ``Broker.emit_before`` / ``emit_after`` call its middleware) and the default list,
`DEFAULT_HOOKS`, with the built-in steps. The events of one run, in order::

    before_run(run)            checked, not yet registered: raise ConfigError to refuse it
    after_start(run)           registered in the index (not in a dry run), before any record
    after_chunk(run, outcomes) each chunk's outcomes counted (not in a dry run)
    after_records(run)         every record read and counted (not when interrupted or failed)
    after_run(run)             always, once the report and the index row are settled; an
                               error here becomes a warning (the report is written already)

Adding a step is one line: ``add_hook(MyHook())`` (or pass ``hooks=`` to `run_job`).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from factory.errors import ConfigError, FactoryError

if TYPE_CHECKING:
    from factory.archive.index import SqlIndex
    from factory.archive.store import Store
    from factory.config import Settings
    from factory.executors.base import Executor
    from factory.jobs import JobSpec
    from factory.models import Outcome, RunReport
    from factory.pipeline import WorkerConfig
    from factory.runner.accounting import RunState
    from factory.runner.run import Prepared, RunOptions

HEARTBEAT_SECONDS = 10.0


@dataclass
class RunContext:
    """One run as its hooks see it."""

    job: JobSpec
    settings: Settings
    options: RunOptions
    prepared: Prepared
    report: RunReport
    state: RunState
    index: SqlIndex
    store: Store
    executor: Executor
    config: WorkerConfig

    @property
    def dry_run(self) -> bool:
        return self.options.dry_run


class Hook:
    """A step of every run; override the events it takes part in (see the module docstring)."""

    def before_run(self, run: RunContext) -> None:
        pass

    def after_start(self, run: RunContext) -> None:
        pass

    def after_chunk(self, run: RunContext, outcomes: list[Outcome]) -> None:
        pass

    def after_records(self, run: RunContext) -> None:
        pass

    def after_run(self, run: RunContext) -> None:
        pass


class Hooks:
    """The hooks of one run, called in order."""

    def __init__(self, hooks: Iterable[Hook]) -> None:
        self.hooks = list(hooks)

    def emit_before(self, event: str, *args: Any) -> None:
        for hook in self.hooks:
            getattr(hook, f"before_{event}")(*args)

    def emit_after(self, event: str, *args: Any) -> None:
        for hook in self.hooks:
            getattr(hook, f"after_{event}")(*args)

    def emit_settled(self, run: RunContext) -> None:
        """``after_run`` of every hook; a failing one is a warning, never a lost report."""
        for hook in self.hooks:
            try:
                hook.after_run(run)
            except (FactoryError, OSError) as exc:
                run.report.warnings.append(f"{type(hook).__name__}: {exc}")


class ApprovalCheck(Hook):
    """A job with ``require_approval`` runs only an approved template version; a dry run
    goes on with a warning."""

    def before_run(self, run: RunContext) -> None:
        from factory.runner.approval import approval_problem

        problem = approval_problem(run.job, run.prepared.templates.version, run.index)
        if problem and not run.dry_run:
            raise ConfigError(problem)
        if problem:
            run.report.warnings.append(problem)


class LettersNotInBatch(Hook):
    """A job whose template set declares editable blocks writes one letter at a time (the web
    UI's New letter, `factory.ondemand.letters`): a batch run of it is refused up front."""

    def before_run(self, run: RunContext) -> None:
        manifest = run.prepared.templates.template_set.manifest
        if manifest.blocks:
            raise ConfigError(f"job {run.job.name!r} writes interactive letters (template set"
                              f" {run.job.template_set!r} has editable blocks): each is written"
                              " for one customer in the web UI (New letter), not run in batch")


class ScratchSweep(Hook):
    """Remove the scratch folders runs killed with -9 left."""

    def after_start(self, run: RunContext) -> None:
        from factory.sources import sweep_scratch

        folder = run.settings.var_dir / "tmp"
        swept = sweep_scratch(folder)
        if swept:
            run.report.warnings.append(f"removed {len(swept)} scratch folder(s) of runs that"
                                       f" died in {folder}")


class KeepTemplateVersion(Hook):
    """Store the template-set snapshot once per version, so it can be rendered again."""

    def after_start(self, run: RunContext) -> None:
        from factory.archive.versions import keep_version

        if not run.dry_run:
            keep_version(run.store, run.index, run.prepared.templates.template_set)


class RemoveDeadAttempts(Hook):
    """Remove the temporary objects killed attempts left under this job and period: this run
    is the live one now (`start_run`), so no live writer uses them."""

    def after_start(self, run: RunContext) -> None:
        from factory.archive.store import TempObjects

        if run.dry_run or not isinstance(run.store, TempObjects):
            return
        removed = run.store.remove_temp(f"{run.job.name}/{run.prepared.period.code}/")
        if removed:
            run.report.warnings.append(f"removed {removed} temporary object(s) left by killed"
                                       " attempts of earlier runs")


class Heartbeat(Hook):
    """Every ``HEARTBEAT_SECONDS`` of a run, its progress into its index row."""

    def __init__(self) -> None:
        self.beat = time.monotonic()

    def after_start(self, run: RunContext) -> None:
        self.beat = time.monotonic()

    def after_chunk(self, run: RunContext, outcomes: list[Outcome]) -> None:
        if time.monotonic() - self.beat > HEARTBEAT_SECONDS:
            self.beat = time.monotonic()
            run.index.runs.heartbeat(run.config.run_id, run.report.as_dict())


class OrphanWarning(Hook):
    """Line items in the items file that belong to no record read."""

    def after_records(self, run: RunContext) -> None:
        source = run.prepared.source
        orphans = getattr(source, "orphan_items", 0)
        if orphans:
            keys = ", ".join(getattr(source, "orphan_keys", []))
            run.report.warnings.append(
                f"{orphans} line item(s) in the items file belong to no record read"
                f" (keys such as {keys})")


class PrintFiles(Hook):
    """A job with ``[print] enabled``: its print files built from the archived documents,
    unless some records failed (they would be missing)."""

    def after_records(self, run: RunContext) -> None:
        if run.dry_run or not run.job.print_.enabled:
            return
        from factory.runner.print_step import build_print

        report = run.report
        if report.counts.failed:
            report.warnings.append(
                f"print files not built: {report.counts.failed} record(s) failed; fix them and"
                " run again, or build them anyway with `docfactory print`")
            return
        summary = build_print(run.job, run.settings, run.prepared.period.code, run.store,
                              run.index, report.run_id)
        report.print_files = summary.as_dict()
        report.warnings.extend(summary.warnings)


#: The hooks of every run, built fresh per run (a hook may keep state, like `Heartbeat`).
DEFAULT_HOOKS: list[type[Hook]] = [LettersNotInBatch, ApprovalCheck, ScratchSweep,
                                   KeepTemplateVersion, RemoveDeadAttempts, Heartbeat,
                                   OrphanWarning, PrintFiles]


def add_hook(hook: type[Hook]) -> None:
    """Run ``hook`` (a `Hook` class, built once per run) in every run, after the others."""
    DEFAULT_HOOKS.append(hook)


def default_hooks() -> Hooks:
    return Hooks(factory() for factory in DEFAULT_HOOKS)


__all__ = ["DEFAULT_HOOKS", "HEARTBEAT_SECONDS", "Hook", "Hooks", "RunContext", "add_hook",
           "default_hooks"]
