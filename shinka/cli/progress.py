"""The campaign progress bar: evaluations done of the budget, hypervolume, failures and time left (rich)."""

from __future__ import annotations

import contextlib
import logging
import math
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

from rich.console import Console
from rich.logging import RichHandler
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)

ProgressCallback = Callable[[int, int, dict[str, float]], None]


def _duration(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    minutes, seconds = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}"


class CampaignProgress:
    """Progress callback for `Campaign.progress`, drawing one rich progress bar.

    Time left is the mean time per finished evaluation so far times the
    evaluations still to do, an estimate that ignores evaluations in flight.
    """

    def __init__(self, progress: Progress, total: int | None = None) -> None:
        self.progress = progress
        self.task = progress.add_task("evaluations", total=total, hypervolume="n/a", failed=0, left="?")
        self.started = time.perf_counter()
        self.first_done: int | None = None

    def __call__(self, done: int, budget: int, metrics: dict[str, float]) -> None:
        if self.first_done is None:
            # A resumed campaign starts with evaluations already in the journal; they took no time here.
            self.first_done = done - 1
        elapsed = time.perf_counter() - self.started
        finished_here = done - self.first_done
        left = elapsed / finished_here * max(0, budget - done) if finished_here > 0 else math.inf
        hypervolume = metrics.get("hypervolume")
        self.progress.update(
            self.task,
            total=budget,
            completed=done,
            hypervolume="n/a" if hypervolume is None else f"{hypervolume:.4g}",
            failed=int(metrics.get("failed", 0)),
            left=_duration(left),
        )


def make_progress(console: Console) -> Progress:
    """Return the rich Progress with the campaign columns, drawing on `console`."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("hypervolume {task.fields[hypervolume]}"),
        TextColumn("failed {task.fields[failed]}"),
        TimeElapsedColumn(),
        TextColumn("left ~{task.fields[left]}"),
        console=console,
        transient=False,
    )


@contextlib.contextmanager
def campaign_progress(enabled: bool = True, total: int | None = None) -> Iterator[ProgressCallback | None]:
    """Show a progress bar on stderr while the block runs; yield its callback (None when disabled).

    `total` is the evaluation budget shown before the first evaluation finishes.

    On a terminal, shinka's log lines go through rich while the bar is shown,
    so that they print above the bar instead of breaking it. Elsewhere (a pipe
    or a file) log lines stay plain and the bar prints once, when it stops.
    """
    if not enabled:
        yield None
        return
    console = Console(file=sys.stderr)
    progress = make_progress(console)
    root = logging.getLogger("shinka")
    previous = root.handlers[:]
    if console.is_terminal:
        handler = RichHandler(console=console, show_path=False, log_time_format="%H:%M:%S")
        handler.setFormatter(logging.Formatter("%(message)s"))
        root.handlers[:] = [handler]
    try:
        with progress:
            yield CampaignProgress(progress, total)
    finally:
        root.handlers[:] = previous


def run_with_progress(campaign: Any, enabled: bool) -> Any:
    """Run a prepared or reopened Campaign under the progress bar and print its Pareto front; return its result."""
    from shinka.cli.output import print_front

    with campaign_progress(enabled=enabled, total=campaign.config.budget.evaluations) as progress:
        campaign.progress = progress
        result = campaign.run()
    print_front(result.front, result.objectives)
    return result
