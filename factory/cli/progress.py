"""Progress on the console: a live rich bar on a terminal, plain log lines otherwise.

Takes the runner's progress calls; gives a bar with documents, docs/s and ETA (TTY), or a line
every ``interval`` seconds (cron, CI, ``| tee``), both on standard error.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from factory.models import Counts


def processed(counts: Counts) -> int:
    return counts.archived + counts.rejected + counts.failed + counts.skipped


class RateColumn(ProgressColumn):
    """Documents per second, from rich's own speed estimate."""

    def render(self, task: Any) -> Text:
        speed = task.finished_speed or task.speed
        return Text("-- docs/s" if speed is None else f"{speed:5.1f} docs/s", style="cyan")


class RichProgress:
    """A live progress bar for a terminal."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.bar = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TaskProgressColumn(), RateColumn(), TimeElapsedColumn(),
            TextColumn("ETA"), TimeRemainingColumn(),
            TextColumn("{task.fields[detail]}"),
            console=console, transient=False, refresh_per_second=4,
        )
        self.task: Any = None
        self.total: int | None = None

    def start(self, total: int | None, description: str) -> None:
        self.total = total
        self.bar.start()
        self.task = self.bar.add_task(description, total=total, detail="")

    def update(self, counts: Counts) -> None:
        detail = (f"[green]{counts.archived} archived[/] [yellow]{counts.rejected} rejected[/]"
                  f" [red]{counts.failed} failed[/] {counts.skipped} skipped")
        # Records skipped (archived by an earlier run) are taken out of the bar's work, so its
        # speed and ETA count only what this run processes (a resumed run).
        total = None if self.total is None else max(self.total - counts.skipped, 0)
        self.bar.update(self.task, completed=processed(counts) - counts.skipped, total=total,
                        detail=detail)

    def finish(self, counts: Counts) -> None:
        if self.task is not None:
            self.update(counts)
        self.bar.stop()


class LogProgress:
    """One plain line every ``interval`` seconds, for logs."""

    def __init__(self, console: Console, interval: float = 10.0) -> None:
        self.console = console
        self.interval = interval
        self.total: int | None = None
        self.description = ""
        self.started = 0.0
        self.last = 0.0

    def _line(self, counts: Counts, final: bool = False) -> None:
        elapsed = max(time.monotonic() - self.started, 1e-9)
        done = processed(counts)
        rate = counts.rendered / elapsed
        of = f"/{self.total}" if self.total is not None else ""
        eta = ""
        worked = done - counts.skipped  # what this run processed itself (not a resume's skips)
        if self.total and rate > 0 and worked > 0 and not final:
            remaining = max(self.total - done, 0) / (worked / elapsed)
            eta = f", ETA {int(remaining // 60)}:{int(remaining % 60):02d}"
        stamp = datetime.now().strftime("%H:%M:%S")
        self.console.print(
            f"{stamp} {self.description}: {done}{of} processed, {counts.archived} archived,"
            f" {counts.rejected} rejected, {counts.failed} failed, {counts.skipped} skipped,"
            f" {rate:.1f} docs/s{eta}", highlight=False, soft_wrap=True)

    def start(self, total: int | None, description: str) -> None:
        self.total = total
        self.description = description
        self.started = self.last = time.monotonic()
        of = f", {total} records" if total is not None else ""
        self.console.print(f"{datetime.now():%H:%M:%S} {description}: started{of}",
                           highlight=False)

    def update(self, counts: Counts) -> None:
        if time.monotonic() - self.last >= self.interval:
            self.last = time.monotonic()
            self._line(counts)

    def finish(self, counts: Counts) -> None:
        self._line(counts, final=True)


def make_progress(console: Console, quiet: bool = False) -> Any:
    from factory.runner import NoProgress

    if quiet:
        return NoProgress()
    return RichProgress(console) if console.is_terminal else LogProgress(console)
