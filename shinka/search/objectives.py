"""Objective goals: which metrics are minimized and which maximized.

A campaign file lists objectives as plain names (minimized), as
`max:NAME` / `min:NAME`, or as `{name: NAME, goal: maximize}`. Strategies,
Pareto ranks and hypervolumes only ever see minimization values: a maximized
metric is negated on the way in.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

GOALS = ("minimize", "maximize")
PREFIXES = {"min:": "minimize", "max:": "maximize"}


def split_objective_entries(entries: Sequence[Any]) -> tuple[list[Any], list[str]]:
    """Turn campaign objective entries into plain names and the names to maximize.

    Raises ValueError (with the allowed forms) for an entry of another shape, an
    unknown goal or an unknown key; names are returned unchecked.
    """
    names: list[Any] = []
    maximize: list[str] = []
    for entry in entries:
        if isinstance(entry, str):
            goal = "minimize"
            for prefix, prefix_goal in PREFIXES.items():
                if entry.startswith(prefix):
                    entry, goal = entry[len(prefix):], prefix_goal
            names.append(entry)
        elif isinstance(entry, Mapping):
            unknown = sorted(set(entry) - {"name", "goal"})
            if unknown:
                raise ValueError(f"unknown key '{unknown[0]}' in objective {dict(entry)}; allowed: name, goal")
            if not isinstance(entry.get("name"), str):
                raise ValueError(f"objective {dict(entry)} needs a 'name' string")
            goal = entry.get("goal", "minimize")
            if goal not in GOALS:
                raise ValueError(f"unknown goal '{goal}' of objective '{entry['name']}'; allowed: {', '.join(GOALS)}")
            entry = entry["name"]
            names.append(entry)
        else:
            raise ValueError(
                f"invalid objective {entry!r}; allowed: a metric name, 'max:NAME', 'min:NAME' "
                "or a mapping {name: NAME, goal: minimize|maximize}"
            )
        if goal == "maximize" and entry not in maximize:
            maximize.append(entry)
    return names, maximize


@dataclass(frozen=True)
class ObjectiveSet:
    """Objective names in order, with the ones to maximize; converts metrics to minimization values."""

    names: tuple[str, ...]
    maximize: frozenset[str] = frozenset()

    @classmethod
    def from_lists(cls, names: Sequence[str], maximize: Sequence[str] = ()) -> "ObjectiveSet":
        return cls(tuple(names), frozenset(maximize))

    @property
    def signs(self) -> np.ndarray:
        """Return +1 for a minimized objective and -1 for a maximized one, in order."""
        return np.array([-1.0 if name in self.maximize else 1.0 for name in self.names])

    def goal(self, name: str) -> str:
        return "maximize" if name in self.maximize else "minimize"

    def minimization(self, metrics: Mapping[str, Any]) -> np.ndarray | None:
        """Return the objective values to minimize, or None when one is missing or not finite."""
        values = []
        for name in self.names:
            value = metrics.get(name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                return None
            values.append(float(value))
        return np.array(values) * self.signs

    def matrix(self, rows: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """Return an (n, m) minimization array; a row with a missing or non-finite objective is all NaN."""
        result = np.full((len(rows), len(self.names)), np.nan)
        for index, metrics in enumerate(rows):
            values = self.minimization(metrics)
            if values is not None:
                result[index] = values
        return result
