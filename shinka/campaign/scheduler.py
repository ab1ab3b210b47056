"""Ray scheduling of evaluations: training tasks in parallel, measurement tasks alone.

A training task takes `threads` CPUs. A measurement task takes every CPU that
the campaign trains with on its node, and no training is submitted while one
is pending, so a latency is never measured beside a training on the same
cores. A profile that names a Ray custom resource is measured only on nodes
that advertise it; when no node does, its metrics stay estimated.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from shinka.campaign.failures import SYSTEM, TIMED_OUT, classify_ray_error
from shinka.hardware.profile import HardwareProfile
from shinka.model.arch import ArchConfig
from shinka.proxy.train import TrainSettings

logger = logging.getLogger(__name__)

# The driver cancels a training task this long after its own time limit passed,
# in case the task cannot check the clock (stuck in one long operation).
CANCEL_GRACE_S = 30.0


@dataclass
class Evaluation:
    """One candidate's way through training and measurement."""

    key: Any  # caller's handle, returned with the result
    arch: ArchConfig | None = None  # the model to train; None when a function scores `values`
    values: dict[str, Any] | None = None  # the genome's gene values, for an objective function
    # Cost-model metrics and their sources, kept when the feasibility pre-filter computed them.
    estimates: tuple[dict[str, float], dict[str, str]] | None = None
    started: float = field(default_factory=time.perf_counter)
    trained: dict[str, Any] | None = None
    latency: dict[str, dict[str, float]] = field(default_factory=dict)  # profile name -> measured values
    measuring: int = 0  # measurement tasks still pending

    @property
    def seconds(self) -> float:
        return time.perf_counter() - self.started


@dataclass(frozen=True)
class Placement:
    """Placement of one profile's measurement: the Ray options of its task."""

    profile: str
    options: dict[str, Any]


def _measure_with_node(*args: Any, **kwargs: Any) -> dict[str, Any]:
    import ray

    from shinka.campaign.evaluation import measure_candidate

    result = dict(measure_candidate(*args, **kwargs))
    result["node_id"] = ray.get_runtime_context().get_node_id()
    return result


def measurement_placements(
    ray: Any, profiles: dict[str, HardwareProfile], cpus_per_node: int
) -> tuple[list[Placement], list[str]]:
    """Return the placements of measured profiles, and the profiles left to estimates.

    A profile with `ray_resource` is measured where a node advertises that
    resource, taking all of that node's CPUs; a profile with `measure: true` is
    measured on any node, taking `cpus_per_node` CPUs.
    """
    placements, estimated = [], []
    nodes = [node for node in ray.nodes() if node.get("Alive")]
    for name, profile in profiles.items():
        if profile.ray_resource:
            hosts = [node for node in nodes if node["Resources"].get(profile.ray_resource, 0) > 0]
            if hosts:
                cpus = int(min(node["Resources"].get("CPU", 1) for node in hosts))
                placements.append(Placement(name, {"num_cpus": cpus, "resources": {profile.ray_resource: 1}}))
                continue
            if not profile.measure:
                logger.info("no node advertises resource %r: profile %s stays estimated", profile.ray_resource, name)
                estimated.append(name)
                continue
        if profile.measure:
            placements.append(Placement(name, {"num_cpus": cpus_per_node}))
        else:
            estimated.append(name)
    return placements, estimated


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
        profiles: dict[str, HardwareProfile],
        measure_options: dict[str, Any],
        max_retries: int = 2,
        train_function: Callable[..., dict[str, Any]] | None = None,
        measure_function: Callable[..., dict[str, Any]] | None = None,
    ) -> None:
        """Prepare the Ray tasks; `train_function` and `measure_function` replace what runs inside them (tests)."""
        from shinka.campaign.evaluation import train_candidate

        self.ray = ray
        cluster_cpus = int(ray.cluster_resources().get("CPU", 1))
        largest_node = max((int(n["Resources"].get("CPU", 1)) for n in ray.nodes() if n.get("Alive")), default=1)
        self.threads = threads
        self.workers = workers or max(1, cluster_cpus // threads)
        self.measure_options = measure_options
        cpus_per_node = min(largest_node, self.workers * threads)
        self.placements, self.estimated_profiles = measurement_placements(ray, profiles, cpus_per_node)
        self._train_task = ray.remote(num_cpus=threads, max_retries=max_retries)(train_function or train_candidate)
        self._measure_task = ray.remote(max_retries=max_retries)(measure_function or _measure_with_node)
        self._train_ref = ray.put(train)
        self._validation_ref = ray.put(validation)
        self.settings = settings
        self.max_retries = max_retries
        self._pending: dict[Any, tuple[str, Evaluation, str | None]] = {}

    def training_count(self) -> int:
        return sum(1 for kind, _, _ in self._pending.values() if kind == "train")

    def measuring(self) -> bool:
        return any(kind == "measure" for kind, _, _ in self._pending.values())

    def can_submit(self) -> bool:
        """Return True when a worker is free and no measurement is pending."""
        return not self.measuring() and self.training_count() < self.workers

    def submit(self, evaluation: Evaluation) -> None:
        ref = self._train_task.remote(
            evaluation.arch.to_dict(), self._train_ref, self._validation_ref, self.settings, self.threads
        )
        evaluation.started = time.perf_counter()
        self._pending[ref] = ("train", evaluation, None)

    def pending(self) -> int:
        return len({id(evaluation) for _, evaluation, _ in self._pending.values()})

    def wait(self) -> Evaluation:
        """Block until one evaluation is complete (trained, and measured where required) and return it."""
        while True:
            done = self._wait_one()
            kind, evaluation, profile = self._pending.pop(done)
            if kind == "train":
                evaluation.trained = self._fetch(done, evaluation)
                if evaluation.trained["status"] == "ok" and self.placements:
                    self._submit_measurements(evaluation)
                    continue
                return evaluation
            evaluation.measuring -= 1
            try:
                evaluation.latency[profile] = self.ray.get(done)
            except Exception as error:  # a failed measurement leaves that profile estimated
                logger.warning("measurement of %s failed, keeping the estimate: %s", profile, error)
            if evaluation.measuring == 0:
                return evaluation

    def _wait_one(self) -> Any:
        limit = self.settings.time_limit_s
        while True:
            # A bounded wait returns to Python every second, so a second Ctrl-C acts at once.
            ready, _ = self.ray.wait(list(self._pending), num_returns=1, timeout=1.0)
            if ready:
                return ready[0]
            if limit is None:
                continue
            now = time.perf_counter()
            for ref, (kind, evaluation, _) in self._pending.items():
                if kind == "train" and now - evaluation.started > limit + CANCEL_GRACE_S:
                    logger.warning("cancelling a training task %.0f s past its time limit", now - evaluation.started - limit)
                    self.ray.cancel(ref, force=True)

    def _fetch(self, ref: Any, evaluation: Evaluation) -> dict[str, Any]:
        try:
            return self.ray.get(ref)
        except Exception as error:  # Ray raises when the task's worker or node died, after its retries
            kind = classify_ray_error(error)
            retried = f" after {self.max_retries} retries" if kind == SYSTEM else ""
            cause = getattr(error, "cause", None)
            if kind == TIMED_OUT:
                reason = f"timed out: cancelled {evaluation.seconds:.0f} s after submission"
            elif kind != SYSTEM and isinstance(cause, BaseException):
                reason = f"{type(cause).__name__}: {cause}"
            else:
                reason = f"{kind}: {type(error).__name__}{retried}: {str(error).splitlines()[0][:300] if str(error) else ''}"
            return {"status": "failed", "failure_kind": kind, "reason": reason}

    def _submit_measurements(self, evaluation: Evaluation) -> None:
        options = self.measure_options
        for placement in self.placements:
            threads = placement.options["num_cpus"]
            ref = self._measure_task.options(**placement.options).remote(
                evaluation.arch.to_dict(), evaluation.trained["state_dict"], threads,
                options["batch"], options["context"], options["warmup"], options["repeats"],
            )
            self._pending[ref] = ("measure", evaluation, placement.profile)
            evaluation.measuring += 1


class FunctionScheduler(RayScheduler):
    """Submits genomes to a user objective function, one Ray task each, `workers` in flight.

    Nothing is measured, so `wait` returns each evaluation when its task ends.
    Failures and retries follow RayScheduler: a worker that died is retried,
    an exception in the function is not, and a task past `time_limit_s` plus a
    grace period is cancelled.
    """

    def __init__(
        self, ray: Any, function: Any, objectives: list[str], *, threads: int, workers: int | None,
        time_limit_s: float | None, max_retries: int = 2,
    ) -> None:
        from shinka.campaign.function_eval import evaluate_function

        self.ray = ray
        self.threads = threads
        cluster_cpus = int(ray.cluster_resources().get("CPU", 1))
        self.workers = workers or max(1, cluster_cpus // threads)
        self.placements, self.estimated_profiles = [], []
        self.settings = TrainSettings(time_limit_s=time_limit_s)
        self.max_retries = max_retries
        self._function = function
        self._objectives = list(objectives)
        self._task = ray.remote(num_cpus=threads, max_retries=max_retries)(evaluate_function)
        self._pending = {}

    def submit(self, evaluation: Evaluation) -> None:
        ref = self._task.remote(self._function, evaluation.values, self._objectives, self.settings.time_limit_s)
        evaluation.started = time.perf_counter()
        self._pending[ref] = ("train", evaluation, None)
