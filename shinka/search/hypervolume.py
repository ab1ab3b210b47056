"""Normalized hypervolume: the one rule every part of shinka uses to compare fronts.

Rule: each objective (already turned into minimization) is scaled to
(value - ideal) / (nadir - ideal), where ideal and nadir are fixed bounds when
given, else the best and worst finite values among the points evaluated so far.
The reference point is 1.1 in every normalized coordinate, so a point at the
nadir still adds volume. An objective whose ideal equals its nadir is scaled
by 1. With bounds taken from the points so far, a new extreme point rescales
every other point, so the hypervolume logged after each evaluation can drop
when the extremes move; fixed bounds keep the series comparable.
"""

from __future__ import annotations

import numpy as np

from shinka.search import pareto

REFERENCE = 1.1  # reference point coordinate in normalized space


def finite_rows(values: np.ndarray) -> np.ndarray:
    """Return the rows of an (n, m) array whose values are all finite."""
    values = np.asarray(values, dtype=float)
    if values.ndim != 2:
        raise ValueError(f"expected an (n, m) array, got shape {values.shape}")
    return values[np.all(np.isfinite(values), axis=1)]


def bounds_of(values: np.ndarray, fixed_ideal: np.ndarray | None = None,
              fixed_nadir: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Return (ideal, nadir) per objective: the fixed bound where given (not NaN), else the min and max of finite rows.

    With no finite row and no fixed bound, the ideal is 0 and the nadir 1.
    """
    rows = finite_rows(values)
    m = np.asarray(values).shape[1]
    ideal = rows.min(axis=0) if len(rows) else np.zeros(m)
    nadir = rows.max(axis=0) if len(rows) else np.ones(m)
    if fixed_ideal is not None:
        fixed_ideal = np.asarray(fixed_ideal, dtype=float)
        ideal = np.where(np.isnan(fixed_ideal), ideal, fixed_ideal)
    if fixed_nadir is not None:
        fixed_nadir = np.asarray(fixed_nadir, dtype=float)
        nadir = np.where(np.isnan(fixed_nadir), nadir, fixed_nadir)
    return ideal, nadir


def normalize(values: np.ndarray, ideal: np.ndarray, nadir: np.ndarray) -> np.ndarray:
    """Scale minimization values to (value - ideal) / (nadir - ideal); a zero span scales by 1."""
    span = np.asarray(nadir, dtype=float) - np.asarray(ideal, dtype=float)
    span = np.where(span > 0, span, 1.0)
    return (np.asarray(values, dtype=float) - ideal) / span


def normalized_hypervolume(values: np.ndarray, ideal: np.ndarray, nadir: np.ndarray,
                           reference: float = REFERENCE) -> float:
    """Return the hypervolume of the finite rows after normalization, bounded by `reference` in every coordinate.

    The result is in normalized units: at most reference ** m for m objectives.
    """
    rows = finite_rows(values)
    if len(rows) == 0:
        return 0.0
    scaled = normalize(rows, ideal, nadir)
    return pareto.hypervolume(scaled, np.full(rows.shape[1], reference))


def hypervolume_so_far(values: np.ndarray, fixed_ideal: np.ndarray | None = None,
                       fixed_nadir: np.ndarray | None = None, reference: float = REFERENCE) -> float:
    """Return the normalized hypervolume of `values` with bounds from `bounds_of` (the campaign metric)."""
    ideal, nadir = bounds_of(values, fixed_ideal, fixed_nadir)
    return normalized_hypervolume(values, ideal, nadir, reference)


def hypervolume_gain(archive: np.ndarray, point: np.ndarray, ideal: np.ndarray, nadir: np.ndarray,
                     reference: float = REFERENCE) -> float:
    """Return how much adding `point` to `archive` grows the normalized hypervolume (0 when dominated)."""
    archive = np.asarray(archive, dtype=float).reshape(-1, len(point))
    before = normalized_hypervolume(archive, ideal, nadir, reference)
    after = normalized_hypervolume(np.vstack([archive, point]), ideal, nadir, reference)
    return max(0.0, after - before)
