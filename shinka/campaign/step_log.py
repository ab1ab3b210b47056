"""The campaign's state after each evaluation, logged to the parent run in batches.

Each evaluation adds one step: the parent run's metrics `evaluated`,
`feasible`, `failed`, `front_size` and `hypervolume` (plus extras such as
`prefiltered`) at step = evaluations done. MLflow's SQLite store costs several
milliseconds per write call, so steps are buffered and sent together, with the
Pareto tags of the child runs whose rank moved, at most once per `interval_s`
(and always by `flush`). A crash loses at most the last interval of steps;
`catch_up` logs them again on resume from the journal.
"""

from __future__ import annotations

import time
from collections.abc import Collection
from typing import Any

from shinka.campaign.results import front_ranks, step_metrics
from shinka.campaign.tracking import Tracker, pareto_tags


class StepLog:
    """Buffers per-step parent metrics and Pareto tags, and writes them to MLflow in batches."""

    def __init__(
        self, tracker: Tracker, objectives: list[str], maximize: Collection[str] = (), interval_s: float = 1.0
    ) -> None:
        self.tracker = tracker
        self.objectives = list(objectives)
        self.maximize = list(maximize)
        self.interval_s = interval_s
        self.ranks: dict[str, int] = {}  # Pareto rank by candidate id after the latest step
        self._steps: list[tuple[int, dict[str, float]]] = []
        self._parent_tags: dict[str, str] = {}
        self._sent_parent_tags: dict[str, str] = {}
        self._ranks_sent = True
        self._last_flush = time.monotonic()

    def add(
        self, records: list[dict[str, Any]], step: int, extra: dict[str, float] | None = None,
        parent_tags: dict[str, str] | None = None,
    ) -> dict[str, float]:
        """Compute the metrics of `step` from the records so far, buffer them and return them."""
        self.ranks = front_ranks(records, self.objectives, self.maximize)
        metrics = {**step_metrics(records, self.objectives, self.ranks, self.maximize), **(extra or {})}
        self._steps.append((step, metrics))
        self._ranks_sent = False
        for key, value in (parent_tags or {}).items():
            if self._sent_parent_tags.get(key) != value:
                self._parent_tags[key] = value
        return metrics

    def candidate_tags(self, candidate_id: str) -> dict[str, str]:
        """Return the `pareto_rank` and `on_front` tags of a candidate after the latest step."""
        if candidate_id not in self.ranks:
            return {"on_front": "false"}
        return pareto_tags({candidate_id: self.ranks[candidate_id]})[candidate_id]

    def flush_if_due(self) -> None:
        if time.monotonic() - self._last_flush >= self.interval_s:
            self.flush()

    def flush(self) -> None:
        """Send every buffered step, the changed Pareto tags and the changed parent tags."""
        if self._steps:
            self.tracker.log_parent_metric_steps(self._steps)
            self._steps = []
        if not self._ranks_sent:
            self.tracker.update_candidate_tags(pareto_tags(self.ranks))
            self._ranks_sent = True
        if self._parent_tags:
            self.tracker.set_parent_tags(self._parent_tags)
            self._sent_parent_tags.update(self._parent_tags)
            self._parent_tags = {}
        self._last_flush = time.monotonic()

    def catch_up(self, records: list[dict[str, Any]], extra: dict[str, float] | None = None) -> int:
        """Log the steps 1..len(records) that the parent run lacks (lost in a crash); return how many."""
        self.flush()
        logged = self.tracker.logged_steps("evaluated")
        missing = [step for step in range(1, len(records) + 1) if step not in logged]
        for step in missing:
            self.add(records[:step], step, extra)
        self.flush()
        return len(missing)
