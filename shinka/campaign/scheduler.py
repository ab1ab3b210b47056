"""Ray scheduling of evaluations: training tasks in parallel, measurement tasks alone.

A training task takes `threads` CPUs. A measurement task takes every CPU the
campaign trains on, and no training is submitted while one is pending, so a
latency is never measured beside a training on the same cores.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from shinka.model.arch import ArchConfig
from shinka.proxy.train import TrainSettings


@dataclass
class Evaluation:
    """One candidate's way through training and measurement."""

    key: Any  # caller's handle, returned with the result
    arch: ArchConfig
    started: float = field(default_factory=time.perf_counter)
    trained: dict[str, Any] | None = None
    latency: dict[str, float] | None = None

    @property
    def seconds(self) -> float:
        return time.perf_counter() - self.started


class RayScheduler:
    """Submits evaluations to Ray and returns them as they finish (no generation barrier)."""

    def __init__(
        self,
        ray: Any,
        train: np.ndarray,
        validation: np.ndarray,
        settings: TrainSettings,
        *,
        threads: int,
        workers: int | None,
        measure: bool,
        measure_options: dict[str, Any],
    ) -> None:
        from shinka.campaign.evaluation import measure_candidate, train_candidate

        self.ray = ray
        total_cpus = int(ray.cluster_resources().get("CPU", 1))
        self.threads = threads
        self.workers = workers or max(1, total_cpus // threads)
        self.measure = measure
        self.measure_options = measure_options
        self.measure_cpus = min(total_cpus, self.workers * threads)
        self._train_task = ray.remote(num_cpus=threads)(train_candidate)
        self._measure_task = ray.remote(num_cpus=self.measure_cpus)(measure_candidate)
        self._train_ref = ray.put(train)
        self._validation_ref = ray.put(validation)
        self.settings = settings
        self._pending: dict[Any, tuple[str, Evaluation]] = {}

    def training_count(self) -> int:
        return sum(1 for kind, _ in self._pending.values() if kind == "train")

    def measuring(self) -> bool:
        return any(kind == "measure" for kind, _ in self._pending.values())

    def can_submit(self) -> bool:
        """Return True when a worker is free and no measurement is pending."""
        return not self.measuring() and self.training_count() < self.workers

    def submit(self, evaluation: Evaluation) -> None:
        ref = self._train_task.remote(
            evaluation.arch.to_dict(), self._train_ref, self._validation_ref, self.settings, self.threads
        )
        self._pending[ref] = ("train", evaluation)

    def pending(self) -> int:
        return len(self._pending)

    def wait(self) -> Evaluation:
        """Block until one evaluation is complete (trained, and measured when required) and return it."""
        while True:
            [done], _ = self.ray.wait(list(self._pending), num_returns=1)
            kind, evaluation = self._pending.pop(done)
            if kind == "train":
                evaluation.trained = self.ray.get(done)
                if evaluation.trained["status"] == "ok" and self.measure:
                    ref = self._measure_task.remote(
                        evaluation.arch.to_dict(), evaluation.trained["state_dict"], self.measure_cpus,
                        **self.measure_options,
                    )
                    self._pending[ref] = ("measure", evaluation)
                    continue
                return evaluation
            evaluation.latency = self.ray.get(done)
            return evaluation
