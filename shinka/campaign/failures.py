"""Failure kinds of an evaluation, and which of them are worth a retry."""

from __future__ import annotations

# A deterministic failure (the same genome would fail again) is recorded and
# never retried; a system failure (a worker or node died) is retried by Ray.
DIVERGED = "diverged"
OUT_OF_MEMORY = "out of memory"
TIMED_OUT = "timed out"
ERROR = "error"
SYSTEM = "system"


class EvaluationTimeout(RuntimeError):
    """The evaluation passed its time limit."""


def classify_exception(error: BaseException) -> str:
    """Return the failure kind of an exception raised inside a task."""
    from shinka.proxy.train import TrainingDiverged

    if isinstance(error, TrainingDiverged):
        return DIVERGED
    if isinstance(error, EvaluationTimeout):
        return TIMED_OUT
    if isinstance(error, MemoryError):
        return OUT_OF_MEMORY
    text = str(error).lower()
    if isinstance(error, RuntimeError) and ("can't allocate memory" in text or "not enough memory" in text):
        return OUT_OF_MEMORY
    return ERROR


def classify_ray_error(error: BaseException) -> str:
    """Return the failure kind of an error Ray raised when fetching a task's result."""
    import ray.exceptions as ray_errors

    if isinstance(error, getattr(ray_errors, "OutOfMemoryError", ())):
        return OUT_OF_MEMORY
    if isinstance(error, ray_errors.TaskCancelledError):
        return TIMED_OUT
    if isinstance(error, ray_errors.RayTaskError):
        # The task itself raised: a deterministic failure, which Ray does not retry.
        cause = getattr(error, "cause", None)
        return classify_exception(cause) if isinstance(cause, BaseException) else ERROR
    return SYSTEM
