"""Hypervolume: moocore against Optuna's implementation and an exact inclusion-exclusion."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from shinka.search.hypervolume import (
    REFERENCE,
    bounds_of,
    hypervolume_gain,
    hypervolume_so_far,
    normalize,
    normalized_hypervolume,
)
from shinka.search.pareto import hypervolume, non_dominated_mask


def inclusion_exclusion(points, reference):
    """Return the exact hypervolume of a few points as a signed sum over the boxes of every subset."""
    total = 0.0
    for size in range(1, len(points) + 1):
        for subset in itertools.combinations(points, size):
            corner = np.max(subset, axis=0)
            total += (-1) ** (size + 1) * np.prod(np.clip(reference - corner, 0, None))
    return total


def random_front(rng, n_points, n_objectives):
    """Return points on the unit simplex surface (mutually non-dominated) plus dominated ones."""
    on_front = rng.dirichlet(np.ones(n_objectives), size=n_points)
    dominated = on_front[: n_points // 3] + rng.uniform(0.01, 0.3, size=(n_points // 3, n_objectives))
    return np.vstack([on_front, dominated])


@pytest.mark.parametrize("n_objectives", [2, 3, 4, 5])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_moocore_matches_optuna(n_objectives, seed):
    from optuna._hypervolume import compute_hypervolume

    rng = np.random.default_rng(seed)
    points = random_front(rng, 40, n_objectives)
    reference = np.full(n_objectives, 1.5)  # beyond every point, as Optuna requires
    found = hypervolume(points, reference)
    assert found > 0
    assert found == pytest.approx(compute_hypervolume(points, reference), rel=1e-9)


@pytest.mark.parametrize("n_objectives", [2, 3, 4, 5])
def test_moocore_matches_inclusion_exclusion(n_objectives):
    rng = np.random.default_rng(10 + n_objectives)
    points = rng.uniform(0, 1, size=(8, n_objectives))
    reference = np.full(n_objectives, 1.1)
    assert hypervolume(points, reference) == pytest.approx(inclusion_exclusion(points, reference), rel=1e-9)


def test_hypervolume_ignores_points_beyond_reference_and_nan():
    reference = np.array([1.0, 1.0])
    points = np.array([[0.5, 0.5], [1.5, 0.0], [np.nan, 0.1], [1.0, 0.2]])
    assert hypervolume(points, reference) == pytest.approx(0.25)
    assert hypervolume(np.zeros((0, 2)), reference) == 0.0


def test_normalized_hypervolume_reference_rule():
    # One point at the ideal in every objective: volume REFERENCE ** m.
    values = np.array([[2.0, 10.0, -1.0], [4.0, 30.0, 1.0], [3.0, 20.0, 0.0]])
    ideal, nadir = bounds_of(values)
    assert list(ideal) == [2.0, 10.0, -1.0]
    assert list(nadir) == [4.0, 30.0, 1.0]
    scaled = normalize(values, ideal, nadir)
    assert np.allclose(scaled[0], 0.0)
    assert np.allclose(scaled[1], 1.0)
    assert normalized_hypervolume(values[:1], ideal, nadir) == pytest.approx(REFERENCE ** 3)
    # A point at the nadir still adds volume, because the reference is beyond it.
    assert normalized_hypervolume(values[1:2], ideal, nadir) == pytest.approx(0.1 ** 3)


def test_fixed_bounds_override_observed():
    values = np.array([[1.0, 1.0], [3.0, 3.0]])
    ideal, nadir = bounds_of(values, fixed_ideal=np.array([0.0, np.nan]), fixed_nadir=np.array([np.nan, 5.0]))
    assert list(ideal) == [0.0, 1.0]
    assert list(nadir) == [3.0, 5.0]
    assert hypervolume_so_far(values) == pytest.approx(REFERENCE ** 2)


def test_gain_zero_for_dominated_point():
    archive = np.array([[0.0, 1.0], [1.0, 0.0]])
    ideal, nadir = np.zeros(2), np.ones(2)
    assert hypervolume_gain(archive, np.array([1.0, 1.0]), ideal, nadir) == 0.0
    gain = hypervolume_gain(archive, np.array([0.5, 0.5]), ideal, nadir)
    assert gain == pytest.approx(0.25)


def test_front_mask_agrees_with_hypervolume():
    rng = np.random.default_rng(3)
    points = random_front(rng, 30, 3)
    reference = np.full(3, 2.0)
    mask = non_dominated_mask(points)
    assert mask[:30].all()
    assert not mask[30:].any()
    assert hypervolume(points[mask], reference) == pytest.approx(hypervolume(points, reference))
