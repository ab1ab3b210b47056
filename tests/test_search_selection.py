"""Parent selection rules, island migration and the operator bandits of strategy `shinka`."""

from __future__ import annotations

import random
from collections import Counter

import numpy as np
import pytest

from shinka.search.bandit import UCB1, Thompson, make_bandit
from shinka.search.islands import Island, Member, migrate
from shinka.search.selection import power_law_weights, rank_positions, select_parent, weighted_weights
from shinka.space.genome import Genome

DRAWS = 20_000


def frequencies(rule, positions, offspring, seed=0, **options):
    rng = random.Random(seed)
    counts = Counter(select_parent(rule, positions, offspring, rng, **options) for _ in range(DRAWS))
    return np.array([counts[i] / DRAWS for i in range(len(positions))])


def test_rank_positions_rank_then_crowding():
    values = np.array([
        [1.0, 5.0],  # front, extreme: infinite crowding distance
        [2.0, 4.0],  # front, interior, neighbours close
        [4.0, 3.5],  # front, interior, neighbours far apart
        [5.0, 1.0],  # front, extreme
        [3.0, 6.0],  # second front
        [6.0, 6.0],  # third front
    ])
    positions = rank_positions(values)
    assert sorted(positions[:4]) == [0, 1, 2, 3]
    assert set(positions[[0, 3]]) == {0, 1}
    assert positions[2] < positions[1]
    assert positions[4] == 4
    assert positions[5] == 5


def test_power_law_exponent_zero_is_uniform():
    positions = np.arange(5)
    found = frequencies("power_law", positions, [0] * 5, exponent=0.0)
    assert np.allclose(found, 0.2, atol=0.015), found


def test_power_law_favours_rank_zero():
    positions = np.array([3, 0, 4, 1, 2])  # shuffled, so the test checks positions, not indices
    exponent = 1.5
    found = frequencies("power_law", positions, [0] * 5, exponent=exponent)
    expected = power_law_weights(positions, exponent)
    expected = expected / expected.sum()
    assert np.allclose(found, expected, atol=0.015), (found, expected)
    by_position = found[np.argsort(positions)]
    assert all(by_position[i] > by_position[i + 1] for i in range(4)), by_position
    assert found[1] > 0.4


def test_power_law_larger_exponent_favours_best_more():
    positions = np.arange(6)
    mild = frequencies("power_law", positions, [0] * 6, exponent=0.5)
    steep = frequencies("power_law", positions, [0] * 6, exponent=3.0)
    assert steep[0] > mild[0] + 0.2
    assert steep[5] < mild[5]


def test_weighted_fades_overused_parents():
    positions = np.arange(4)
    fresh = frequencies("weighted", positions, [0, 0, 0, 0], sharpness=10.0)
    assert fresh[0] > fresh[1] > fresh[2] > fresh[3]
    used = frequencies("weighted", positions, [9, 0, 0, 0], sharpness=10.0)
    assert used[0] < fresh[0] / 4
    assert used[1] > used[0]
    expected = weighted_weights(positions, [9, 0, 0, 0], 10.0)
    assert np.allclose(used, expected / expected.sum(), atol=0.015)


def test_weighted_in_a_loop_spreads_offspring():
    positions = np.arange(5)
    offspring = [0] * 5
    rng = random.Random(3)
    for _ in range(200):
        chosen = select_parent("weighted", positions, offspring, rng, sharpness=10.0)
        offspring[chosen] += 1
    # Without the 1 / (1 + offspring) factor the best would get almost all 200.
    assert offspring[0] < 120
    assert offspring[1] > 20


def test_hill_climbing_stays_then_moves():
    positions = np.array([2, 0, 1])
    offspring = [0, 0, 0]
    rng = random.Random(0)
    patience = 4
    chosen = []
    for _ in range(3 * patience + 2):
        index = select_parent("hill_climbing", positions, offspring, rng, patience=patience)
        offspring[index] += 1
        chosen.append(index)
    assert chosen[:patience] == [1] * patience
    assert chosen[patience:2 * patience] == [2] * patience
    assert chosen[2 * patience:3 * patience] == [0] * patience
    # Every member had its share, so the best is chosen again.
    assert chosen[3 * patience:] == [1, 1]


def test_select_parent_rejects_unknown_rule():
    with pytest.raises(ValueError, match="unknown parent selection"):
        select_parent("tournament", np.arange(3), [0, 0, 0], random.Random(0))


def member(name, values):
    return Member(genome=Genome({"name": name}), values=np.array(values, dtype=float))


def names(island):
    return {m.genome["name"] for m in island.members}


def test_migrate_copies_front_and_keeps_elites():
    first, second = Island(0, capacity=4), Island(1, capacity=4)
    for name, values in [("a", [0, 4]), ("b", [4, 0]), ("c", [5, 5]), ("d", [6, 6])]:
        first.add(member(name, values))
    for name, values in [("w", [1, 9]), ("x", [9, 1]), ("y", [7, 7]), ("z", [8, 8])]:
        second.add(member(name, values))
    before_first = names(first)
    added = migrate([first, second], rate=0.5, rng=random.Random(0))
    assert added == 4
    # The source keeps every member it sent, and the copies are marked.
    assert names(first) >= {"a", "b"}
    assert {"a", "b"} <= names(second)
    assert {"w", "x"} <= names(first)
    assert all(m.migrant for m in second.members if m.genome["name"] in ("a", "b"))
    # Both islands stay within capacity, and each keeps its own non-dominated members.
    assert len(first) == 4
    assert len(second) == 4
    assert {"w", "x"} <= names(second)
    assert before_first - names(first) == {"c", "d"}


def test_migrate_skips_copies_already_there():
    first, second = Island(0, capacity=5), Island(1, capacity=5)
    shared = member("a", [0, 1])
    first.add(shared)
    second.add(Member(genome=shared.genome, values=shared.values.copy()))
    added = migrate([first, second], rate=1.0, rng=random.Random(0))
    assert added == 0
    assert len(first) == 1
    assert len(second) == 1


def run_bandit(bandit, probabilities, rounds, seed):
    rng = random.Random(seed)
    for _ in range(rounds):
        arm = bandit.choose()
        bandit.update(arm, 1.0 if rng.random() < probabilities[arm] else 0.0)
    return bandit.pulls


@pytest.mark.parametrize("name", ["ucb1", "thompson"])
def test_bandit_picks_rewarded_arm(name):
    probabilities = {"resample": 0.1, "step": 0.8, "compress": 0.2}
    bandit = make_bandit(name, list(probabilities), random.Random(0))
    assert isinstance(bandit, UCB1 if name == "ucb1" else Thompson)
    pulls = run_bandit(bandit, probabilities, 600, seed=1)
    assert pulls["step"] > 0.6 * 600, pulls
    assert pulls["step"] > pulls["resample"] + pulls["compress"]
    assert min(pulls.values()) >= 1


@pytest.mark.parametrize("name", ["ucb1", "thompson"])
def test_bandit_mean_tracks_rewards(name):
    bandit = make_bandit(name, ["a", "b"], random.Random(0))
    run_bandit(bandit, {"a": 0.9, "b": 0.1}, 200, seed=2)
    assert bandit.pulls["a"] > bandit.pulls["b"]
    assert bandit.mean("a") > bandit.mean("b")


def test_bandit_clips_rewards():
    bandit = make_bandit("ucb1", ["a"], random.Random(0))
    bandit.update("a", 5.0)
    bandit.update("a", -1.0)
    assert bandit.mean("a") == 0.5


def test_make_bandit_rejects_unknown_name():
    with pytest.raises(ValueError, match="unknown bandit"):
        make_bandit("epsilon_greedy", ["a"], random.Random(0))
