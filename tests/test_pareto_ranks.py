"""Pareto ranks from moocore agree with DEAP's non-dominated sort."""

from __future__ import annotations

import numpy as np
import pytest

from shinka.search.pareto import pareto_ranks, pareto_ranks_deap


@pytest.mark.parametrize("objectives", [2, 3, 5])
def test_ranks_match_deap(objectives):
    rng = np.random.default_rng(objectives)
    values = rng.integers(0, 20, size=(300, objectives)).astype(float)  # integers make ties and duplicates
    assert np.array_equal(pareto_ranks(values), pareto_ranks_deap(values))


def test_ranks_put_nan_last():
    values = np.array([[1.0, 2.0], [np.nan, 0.0], [2.0, 1.0], [3.0, 3.0]])
    ranks = pareto_ranks(values)
    assert list(ranks) == [0, 2, 0, 1]
