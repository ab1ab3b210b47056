"""Campaigns on any search space: each genome is scored by a user function given as `module:function`.

The function takes the genome's values (a dict of gene name to value) and
returns a mapping of metric name to number. The campaign's objectives name
keys of that mapping. It runs inside a Ray task, one per genome, on the same
scheduler as proxy training, so its failures (an exception, a missing or
non-finite objective, the time limit) mark the candidate failed and the
campaign goes on.
"""

from __future__ import annotations

import importlib
import math
import sys
import time
import traceback
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

from shinka.campaign.failures import DIVERGED, ERROR, TIMED_OUT, classify_exception
from shinka.errors import UserError


@dataclass(frozen=True)
class FunctionRef:
    """Location of the objective function: a module, a function name and folders to import from."""

    module: str
    name: str
    search_path: tuple[str, ...] = ()

    @property
    def spec(self) -> str:
        return f"{self.module}:{self.name}"

    def load(self) -> Callable[..., Any]:
        with _importable_from(self.search_path):
            module = importlib.import_module(self.module)
        return getattr(module, self.name)


@contextmanager
def _importable_from(folders: tuple[str, ...]) -> Iterator[None]:
    added = [folder for folder in folders if folder not in sys.path]
    sys.path[:0] = added
    try:
        yield
    finally:
        for folder in added:
            sys.path.remove(folder)


def resolve_objective_function(spec: str, base_dir: Path, source: str | Path | None = None) -> FunctionRef:
    """Import `module:function` (also from the campaign file's folder) and check it is callable.

    Raises UserError naming the field `objective_function` when the module
    cannot be imported or has no such callable.
    """
    module_name, _, name = spec.partition(":")
    ref = FunctionRef(module_name, name, (str(base_dir.resolve()),))
    try:
        function = ref.load()
    except ImportError as error:
        raise UserError(
            f"cannot import module '{module_name}': {error}", file=source, field="objective_function", value=spec,
            allowed="an importable module (installed, or a .py file next to the campaign file)",
        ) from None
    except AttributeError:
        raise UserError(
            f"module '{module_name}' has no attribute '{name}'", file=source, field="objective_function", value=spec,
            allowed="a function defined in that module",
        ) from None
    if not callable(function):
        raise UserError("not callable", file=source, field="objective_function", value=spec, allowed="a function")
    return ref


def evaluate_function(
    ref: FunctionRef, values: dict[str, Any], objectives: list[str], time_limit_s: float | None
) -> dict[str, Any]:
    """Score one genome's values with the user function; return its metrics or a failure with its reason.

    Numbers in the returned mapping become metrics; other values are dropped.
    A missing or non-finite objective fails the candidate, and so does a
    return after `time_limit_s` (the driver cancels a task that never returns).
    """
    import ray

    node_id = ray.get_runtime_context().get_node_id() if ray.is_initialized() else None
    started = time.perf_counter()
    try:
        result = ref.load()(dict(values))
        if not isinstance(result, dict):
            raise TypeError(f"{ref.spec} returned {type(result).__name__}; expected a dict of metric name to number")
    except Exception as error:  # a genome the function cannot score must not stop the campaign
        kind = classify_exception(error)
        return {
            "status": "failed", "failure_kind": kind, "reason": f"{type(error).__name__}: {error}",
            "traceback": traceback.format_exc(limit=5), "node_id": node_id,
        }
    seconds = time.perf_counter() - started
    metrics = {
        str(key): float(value) for key, value in result.items()
        if isinstance(value, (int, float)) and not isinstance(value, bool)
    }
    failure = None
    if time_limit_s is not None and seconds > time_limit_s:
        failure = (TIMED_OUT, f"timed out: took {seconds:.1f} s, limit {time_limit_s:g} s")
    else:
        for name in objectives:
            if name not in metrics:
                failure = (ERROR, f"objective '{name}' is missing from the result; got keys {sorted(result)}")
                break
            if not math.isfinite(metrics[name]):
                failure = (DIVERGED, f"objective '{name}' is {metrics[name]}")
                break
    if failure is not None:
        return {"status": "failed", "failure_kind": failure[0], "reason": failure[1], "node_id": node_id}
    return {"status": "ok", "metrics": metrics, "function_seconds": seconds, "node_id": node_id}
