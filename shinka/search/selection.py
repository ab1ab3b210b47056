"""Parent selection rules over an archive ordered by Pareto rank, then crowding distance.

Every rule sees the archive as positions: 0 is the best member (lowest
non-domination rank, and within a rank the largest crowding distance), n - 1
the worst. Rules by name:

- `power_law`: P(position p) proportional to (p + 1) ** -exponent; exponent 0 is uniform.
- `weighted`: P proportional to sigmoid(sharpness * (s - median s)) / (1 + offspring),
  with s = 1 - p / (n - 1) the normalized score, so parents with many
  offspring fade.
- `hill_climbing`: the best member until it has had `patience` offspring,
  then the next best with fewer, and the best again once all have had that many.
"""

from __future__ import annotations

import math
import random
from typing import Sequence

import numpy as np

from shinka.search import pareto

RULES = ("power_law", "weighted", "hill_climbing")


def rank_positions(values: np.ndarray) -> np.ndarray:
    """Return each row's position in the order (Pareto rank ascending, crowding distance descending).

    Ties keep the row order, so the result is deterministic.
    """
    values = np.asarray(values, dtype=float)
    if len(values) == 0:
        return np.zeros(0, dtype=np.int64)
    ranks = pareto.pareto_ranks(values)
    crowding = pareto.crowding_distances(values)
    order = sorted(range(len(values)), key=lambda i: (ranks[i], -crowding[i], i))
    positions = np.empty(len(values), dtype=np.int64)
    positions[order] = np.arange(len(values))
    return positions


def power_law_weights(positions: np.ndarray, exponent: float) -> np.ndarray:
    """Return selection weights (p + 1) ** -exponent for positions p."""
    return (np.asarray(positions, dtype=float) + 1.0) ** -exponent


def weighted_weights(positions: np.ndarray, offspring: Sequence[int], sharpness: float) -> np.ndarray:
    """Return sigmoid(sharpness * (score - median score)) / (1 + offspring) per member."""
    positions = np.asarray(positions, dtype=float)
    n = len(positions)
    scores = 1.0 - positions / (n - 1) if n > 1 else np.ones(n)
    centred = sharpness * (scores - np.median(scores))
    sigmoid = 1.0 / (1.0 + np.exp(-centred))
    return sigmoid / (1.0 + np.asarray(offspring, dtype=float))


def hill_climbing_choice(positions: np.ndarray, offspring: Sequence[int], patience: int) -> int:
    """Return the index of the best-placed member with fewer than `patience` offspring (the best if none)."""
    order = np.argsort(positions, kind="stable")
    for index in order:
        if offspring[index] < patience:
            return int(index)
    return int(order[0])


def select_parent(rule: str, positions: np.ndarray, offspring: Sequence[int], rng: random.Random, *,
                  exponent: float = 1.0, sharpness: float = 10.0, patience: int = 5) -> int:
    """Return the index of the chosen parent under `rule` (see the module docstring)."""
    if len(positions) == 0:
        raise ValueError("cannot select a parent from an empty archive")
    if rule == "hill_climbing":
        return hill_climbing_choice(positions, offspring, patience)
    if rule == "power_law":
        weights = power_law_weights(positions, exponent)
    elif rule == "weighted":
        weights = weighted_weights(positions, offspring, sharpness)
    else:
        raise ValueError(f"unknown parent selection '{rule}'; allowed: {', '.join(RULES)}")
    total = float(weights.sum())
    if not math.isfinite(total) or total <= 0:
        return rng.randrange(len(positions))
    return rng.choices(range(len(positions)), weights=weights.tolist())[0]
