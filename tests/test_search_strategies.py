"""Every strategy through ask/tell: generic and transformer spaces, determinism, novelty, islands, Optuna."""

from __future__ import annotations

import math
import random
from pathlib import Path

import numpy as np
import pytest

from shinka.campaign.config import StrategyConfig
from shinka.search.base import make_strategy
from shinka.search.novelty import nearest_distance, rejection_reason
from shinka.search.operators import model_gene_share
from shinka.search.optuna_strategy import OptunaStrategy, element_parameter
from shinka.search.selection import rank_positions
from shinka.search.settings import OptunaSettings, ShinkaSettings
from shinka.search.shinka_evolve import ShinkaEvolve
from shinka.space import load_search_space
from shinka.space.search_space import search_space_from_dict

ROOT = Path(__file__).resolve().parents[1]

GENERIC = {
    "name": "generic",
    "kind": "generic",
    "genes": {
        "angle": {"type": "float", "low": 0.0, "high": 1.0},
        "d1": {"type": "float", "low": 0.0, "high": 1.0},
        "d2": {"type": "float", "low": 0.0, "high": 1.0},
        "level": {"type": "int", "low": 0, "high": 8},
        "mode": ["a", "b", "c"],
    },
}

# Strategy label -> campaign `strategy` section.
STRATEGIES = {
    "shinka": {"name": "shinka"},
    "shinka-thompson-weighted": {"name": "shinka", "shinka": {"bandit": "thompson", "parent_selection": "weighted"}},
    "nsga2": {"name": "nsga2"},
    "optuna-tpe": {"name": "optuna", "optuna": {"sampler": "TPESampler"}},
    "optuna-nsga2": {"name": "optuna", "optuna": {"sampler": "NSGAIISampler"}},
    "random": {"name": "random"},
}


def generic_space():
    return search_space_from_dict(GENERIC)


def tiny_space():
    return load_search_space(ROOT / "search_spaces" / "tiny.yaml")


def generic_objectives(genome):
    """Two objectives to minimize, with a known front at d1 = d2 = 0.5, level 3, mode b."""
    g = (genome["d1"] - 0.5) ** 2 + (genome["d2"] - 0.5) ** 2 + 0.05 * abs(genome["level"] - 3)
    g += {"a": 0.2, "b": 0.0, "c": 0.4}[genome["mode"]]
    angle = 0.5 * math.pi * genome["angle"]
    return np.array([(1 + g) * math.cos(angle), (1 + g) * math.sin(angle)])


BITS = {"fp16": 16, "int8": 8, "int4": 4, "ternary": 1.6}


def transformer_objectives(genome):
    """Size in bits (minimize) and a capacity proxy (maximize, so negated) of a tiny.yaml genome."""
    width = genome["d_model"]
    params = genome["n_layer"] * width * width * (2 + 2 * genome["n_kv_head"] / genome["n_head"] + 2 * genome["ffn_mult"])
    params *= genome["rank_ratio"] if genome["rank_ratio"] < 1 else 1.0
    size = params * BITS[genome["weight_format"]]
    capacity = math.log(params) - 2.0 / BITS[genome["weight_format"]]
    return np.array([size, -capacity])


def build(label, space, seed, n_objectives=2):
    return make_strategy(StrategyConfig.model_validate(STRATEGIES[label]), space, n_objectives, seed)


def run(strategy, objectives, evaluations):
    """Ask and tell `evaluations` times; return the proposals in order."""
    proposals = []
    for _ in range(evaluations):
        proposal = strategy.ask()
        proposals.append(proposal)
        strategy.tell(proposal.genome, objectives(proposal.genome))
    return proposals


@pytest.mark.parametrize("label", list(STRATEGIES))
@pytest.mark.parametrize("space_name", ["generic", "tiny"])
def test_strategy_runs_on_space(label, space_name):
    space = generic_space() if space_name == "generic" else tiny_space()
    objectives = generic_objectives if space_name == "generic" else transformer_objectives
    strategy = build(label, space, seed=0)
    proposals = run(strategy, objectives, 60)
    ids = [p.genome.id for p in proposals]
    assert len(set(ids)) == len(ids)
    for proposal in proposals:
        assert space.is_valid(proposal.genome), proposal.genome
        assert proposal.genome == space.canonical(proposal.genome)
    if label != "random":
        assert any(p.operator != "random" for p in proposals), label


@pytest.mark.parametrize("label", list(STRATEGIES))
@pytest.mark.parametrize("space_name", ["generic", "tiny"])
def test_same_seed_same_proposals(label, space_name):
    space = generic_space() if space_name == "generic" else tiny_space()
    objectives = generic_objectives if space_name == "generic" else transformer_objectives
    first = [p.genome.id for p in run(build(label, space, seed=7), objectives, 40)]
    second = [p.genome.id for p in run(build(label, space, seed=7), objectives, 40)]
    other = [p.genome.id for p in run(build(label, space, seed=8), objectives, 40)]
    assert first == second
    assert first != other


def test_optuna_gp_sampler_on_generic_space():
    space = generic_space()
    settings = OptunaSettings(sampler="GPSampler", sampler_options={"n_startup_trials": 4})
    strategy = OptunaStrategy(space, 2, 0, settings)
    proposals = run(strategy, generic_objectives, 7)
    assert len({p.genome.id for p in proposals}) == 7
    assert all(space.is_valid(p.genome) for p in proposals)


def test_shinka_asks_with_many_in_flight():
    space = tiny_space()
    strategy = ShinkaEvolve(space, 2, 0, ShinkaSettings(initial_random=6))
    told = 0
    ids = set()
    rng = random.Random(0)
    in_flight = []
    for _ in range(25):
        # Ask a batch before telling anything, then tell in a shuffled order.
        for _ in range(8):
            proposal = strategy.ask()
            assert proposal.genome.id not in ids
            ids.add(proposal.genome.id)
            in_flight.append(proposal)
        rng.shuffle(in_flight)
        for proposal in in_flight[:5]:
            strategy.tell(proposal.genome, transformer_objectives(proposal.genome))
            told += 1
        in_flight = in_flight[5:]
    assert told == 125
    assert len(in_flight) == 75
    assert strategy.evaluated == told
    assert len(strategy.pending) == len(in_flight)
    assert sum(len(island) for island in strategy.islands) > 0
    assert any(operator != "random" for operator in (p.operator for p in in_flight))


def test_shinka_never_proposes_a_duplicate():
    space = tiny_space()
    strategy = ShinkaEvolve(space, 2, 3, ShinkaSettings(novelty_threshold=0.0))
    proposals = run(strategy, transformer_objectives, 400)
    ids = [p.genome.id for p in proposals]
    assert len(set(ids)) == len(ids)
    assert strategy.rejections["duplicate"] > 0  # the check ran and turned repeats away


def test_novelty_rejects_near_duplicate():
    space = generic_space()
    base = space.canonical({"angle": 0.5, "d1": 0.5, "d2": 0.5, "level": 3, "mode": "b"})
    near = base.replace(angle=0.52)
    far = base.replace(angle=0.9, mode="c")
    threshold = 0.02
    assert nearest_distance(space, near, [base]) < threshold
    assert rejection_reason(space, near, set(), [base], threshold) == "too_close"
    assert rejection_reason(space, far, set(), [base], threshold) is None
    assert rejection_reason(space, base, {base.id}, [], threshold) == "duplicate"
    assert rejection_reason(space, near, set(), [base], 0.0) is None


def test_shinka_offspring_respect_novelty_threshold():
    space = generic_space()
    threshold = 0.05
    strategy = ShinkaEvolve(space, 2, 1, ShinkaSettings(novelty_threshold=threshold))
    checked = 0
    for _ in range(150):
        members = {index: [m.genome for m in island.members] for index, island in enumerate(strategy.islands)}
        proposal = strategy.ask()
        if proposal.operator != "random":
            island = proposal.info["island"]
            assert nearest_distance(space, proposal.genome, members[island]) >= threshold
            checked += 1
        strategy.tell(proposal.genome, generic_objectives(proposal.genome))
    assert checked > 50
    assert strategy.rejections["too_close"] > 0


def test_shinka_migrates_at_interval():
    space = tiny_space()
    settings = ShinkaSettings(islands=3, migration_interval=10, migration_rate=0.2, initial_random=9)
    strategy = ShinkaEvolve(space, 2, 0, settings)
    run(strategy, transformer_objectives, 59)
    assert strategy.migrations == 5
    run(strategy, transformer_objectives, 1)
    assert strategy.migrations == 6
    migrants = [m for island in strategy.islands for m in island.members if m.migrant]
    assert migrants
    for island in strategy.islands:
        assert len(island) <= settings.archive_size


def test_shinka_single_island_never_migrates():
    strategy = ShinkaEvolve(tiny_space(), 2, 0, ShinkaSettings(islands=1, migration_interval=5))
    run(strategy, transformer_objectives, 30)
    assert strategy.migrations == 0


def test_shinka_parent_selection_rules_run():
    space = tiny_space()
    for rule in ("power_law", "weighted", "hill_climbing"):
        strategy = ShinkaEvolve(space, 2, 0, ShinkaSettings(parent_selection=rule))
        proposals = run(strategy, transformer_objectives, 60)
        parents = [p.parents[0] for p in proposals if p.parents]
        assert len(parents) > 20, rule
        assert len({p.genome.id for p in proposals}) == 60


def test_shinka_bandit_is_rewarded():
    strategy = ShinkaEvolve(tiny_space(), 2, 0)
    run(strategy, transformer_objectives, 120)
    pulls = sum(strategy.bandit.pulls.values())
    rewards = sum(strategy.bandit.rewards.values())
    assert pulls > 50
    assert 0 < rewards < pulls


def test_shinka_tell_infeasible_changes_no_archive():
    strategy = ShinkaEvolve(tiny_space(), 2, 0, ShinkaSettings(initial_random=2))
    proposals = run(strategy, transformer_objectives, 10)
    sizes = [len(island) for island in strategy.islands]
    proposal = strategy.ask()
    strategy.tell_infeasible(proposal.genome)
    assert [len(island) for island in strategy.islands] == sizes
    assert proposal.genome.id in strategy.seen
    assert proposal.genome.id not in {p.genome.id for p in proposals}


LAYERED_SPACE = ROOT / "search_spaces" / "compressed.yaml"


@pytest.mark.parametrize("sampler", ["TPESampler", "NSGAIISampler"])
def test_optuna_per_layer_genes(sampler):
    space = load_search_space(LAYERED_SPACE)
    strategy = OptunaStrategy(space, 2, 0, OptunaSettings(sampler=sampler))

    def objectives(genome):
        layers = genome["n_layer"]
        return np.array([genome["d_model"] * layers, -sum(genome["ffn_mult"][:layers])])

    proposals = run(strategy, objectives, 25)
    assert len({p.genome.id for p in proposals}) == 25
    for proposal in proposals:
        genome = proposal.genome
        assert space.is_valid(genome)
        for name in space.per_layer:
            assert len(genome[name]) == space.layers
    # Only the active layers are Optuna parameters.
    trials = {t.number: t for t in strategy.study.get_trials(deepcopy=False)}
    for proposal in proposals:
        params = trials[proposal.info["trial"]].params
        layers = proposal.genome["n_layer"]
        assert element_parameter("ffn_mult", layers - 1) in params
        assert element_parameter("ffn_mult", layers) not in params


def test_optuna_replays_per_layer_result():
    space = load_search_space(LAYERED_SPACE)
    strategy = OptunaStrategy(space, 2, 0)
    genome = space.sample(random.Random(0))
    strategy.tell(genome, np.array([1.0, 2.0]))
    assert len(strategy.study.trials) == 1
    assert strategy.study.trials[0].values == [1.0, 2.0]
    assert genome.id in strategy.seen


def test_optuna_tpe_learns_from_invalid_genomes():
    space = tiny_space()
    strategy = build("optuna-tpe", space, seed=0)
    run(strategy, transformer_objectives, 60)
    # Told as FAIL, TPE proposed the same invalid genome again and again
    # (thousands of asks for 60 evaluations); told as infeasible, it moves on.
    assert strategy.invalid_told < 200
    assert len(strategy.study.trials) < 400


def test_optuna_tell_infeasible_marks_trial():
    from optuna.trial import TrialState

    space = tiny_space()
    strategy = OptunaStrategy(space, 2, 0)
    first = strategy.ask()
    strategy.tell(first.genome, np.array([1.0, 3.0]))
    second = strategy.ask()
    strategy.tell(second.genome, np.array([2.0, 5.0]))
    third = strategy.ask()
    strategy.tell_infeasible(third.genome)
    trial = strategy.study.trials[third.info["trial"]]
    assert trial.state == TrialState.COMPLETE
    assert trial.values[0] > 2.0
    assert trial.values[1] > 5.0
    assert third.genome.id in strategy.seen
    assert strategy.known[third.genome.id] is None


def test_shinka_good_set_is_best_share():
    strategy = ShinkaEvolve(generic_space(), 2, 0, ShinkaSettings(model_good_share=0.25))
    run(strategy, generic_objectives, 40)
    good = strategy._good_set()
    assert len(good) == 10
    positions = rank_positions(np.stack(strategy.all_values))
    best = {genome.id for genome, position in zip(strategy.all_genomes, positions) if position < 10}
    assert {genome.id for genome in good} == best


def test_shinka_model_probability_one_uses_front_model():
    # Every gene of this space is discrete and global, so front_model can redraw all of them.
    space = search_space_from_dict({"name": "discrete", "genes": {"a": [1, 2, 3, 4], "b": ["x", "y", "z"], "c": [0, 1]}})
    settings = ShinkaSettings(model_probability=1.0, crossover_probability=0.0, initial_random=6)
    strategy = ShinkaEvolve(space, 2, 0, settings)
    proposals = run(strategy, lambda g: np.array([g["a"] + g["c"], -g["a"] + (g["b"] == "y")], dtype=float), 20)
    offspring = [p.operator for p in proposals[6:] if p.operator != "random"]
    assert len(offspring) > 5
    assert set(offspring) == {"front_model"}


def test_shinka_model_probability_scaled_by_gene_share():
    # generic_space has three float genes of five varying genes, which front_model leaves alone.
    space = generic_space()
    settings = ShinkaSettings(model_probability=1.0)
    strategy = ShinkaEvolve(space, 2, 0, settings)
    assert strategy._model_probability == pytest.approx(model_gene_share(space))
    assert 0.0 < model_gene_share(space) < 1.0
    without = ShinkaEvolve(space, 2, 0, ShinkaSettings(operators=["resample", "step"]))
    assert without._model_probability == 0.0
