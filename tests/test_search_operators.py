"""Mutation operators of strategy `shinka`: layer moves keep per-layer list lengths, compression moves."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from shinka.search.operators import (
    LAYER_OPERATORS,
    OPERATORS,
    ArchiveView,
    apply_operator,
    available_operators,
    compress,
)
from shinka.space import load_search_space
from shinka.space.search_space import search_space_from_dict

ROOT = Path(__file__).resolve().parents[1]

LAYERED = {
    "name": "layered",
    "kind": "transformer",
    "genes": {
        "n_layer": [1, 2, 3, 4],
        "d_model": [64, 128],
        "n_head": {"choices": [2, 4], "per_layer": True},
        "n_kv_head": {"choices": [1, 2], "per_layer": True},
        "ffn_mult": {"choices": [1.0, 2.0, 4.0], "per_layer": True},
        "sparsity_mlp": {"choices": [0.0, 0.5, "2:4"], "per_layer": True},
    },
    "fixed": {"vocab_size": 256, "context_length": 16},
    "constraints": ["n_head % n_kv_head == 0"],
}

# A generic space with per-layer genes and no layer count: every element is active.
GENERIC_LAYERED = {
    "name": "generic_layered",
    "kind": "generic",
    "genes": {
        "width": {"type": "int", "low": 1, "high": 9, "per_layer": True, "length": 5},
        "kind": {"choices": ["a", "b", "c"], "per_layer": True, "length": 5},
        "scale": {"type": "float", "low": 0.0, "high": 1.0},
    },
}


def layered_space():
    return search_space_from_dict(LAYERED)


def active_prefix(genome, name):
    return genome[name][: genome["n_layer"]]


def is_one_removal(longer, shorter):
    """Return True when deleting one element of `longer` gives `shorter`."""
    return any(longer[:i] + longer[i + 1:] == shorter for i in range(len(longer)))


@pytest.mark.parametrize("operator", LAYER_OPERATORS)
def test_layer_ops_keep_list_length(operator):
    space = layered_space()
    rng = random.Random(0)
    applied = 0
    for _ in range(200):
        genome = space.sample(rng)
        result = apply_operator(operator, genome, space, rng)
        if result is None:
            continue
        applied += 1
        for name in space.per_layer:
            assert len(result[name]) == space.genes[name].length, (operator, name, result)
    assert applied > 50


@pytest.mark.parametrize("operator", LAYER_OPERATORS)
def test_layer_ops_edit_active_layers_only(operator):
    space = layered_space()
    rng = random.Random(1)
    for _ in range(200):
        genome = space.sample(rng)
        result = apply_operator(operator, genome, space, rng)
        if result is None:
            continue
        step = -1 if operator == "layer_delete" else 1
        assert result["n_layer"] == genome["n_layer"] + step
        assert result == space.canonical(result)
        for name in space.per_layer:
            before, after = active_prefix(genome, name), active_prefix(result, name)
            if operator == "layer_delete":
                assert is_one_removal(before, after), (name, before, after)
            else:
                assert is_one_removal(after, before), (name, before, after)


def test_layer_duplicate_repeats_a_layer():
    space = layered_space()
    rng = random.Random(2)
    for _ in range(100):
        genome = space.sample(rng)
        result = apply_operator("layer_duplicate", genome, space, rng)
        if result is None:
            continue
        layers = list(zip(*(active_prefix(result, name) for name in sorted(space.per_layer))))
        assert any(layers[i] == layers[i + 1] for i in range(len(layers) - 1)), layers


def test_layer_ops_at_layer_count_bounds():
    space = layered_space()
    genome = space.sample(random.Random(3))
    smallest = space.canonical(genome.replace(n_layer=1))
    largest = space.canonical(genome.replace(n_layer=4))
    assert apply_operator("layer_delete", smallest, space, random.Random(0)) is None
    assert apply_operator("layer_insert", largest, space, random.Random(0)) is None
    assert apply_operator("layer_duplicate", largest, space, random.Random(0)) is None


@pytest.mark.parametrize("operator", LAYER_OPERATORS)
def test_layer_ops_fixed_layer_count(operator):
    space = search_space_from_dict(GENERIC_LAYERED)
    assert set(available_operators(space)) >= set(LAYER_OPERATORS)
    rng = random.Random(4)
    changed = 0
    for _ in range(100):
        genome = space.sample(rng)
        result = apply_operator(operator, genome, space, rng)
        if result is None:
            continue
        assert space.is_valid(result)
        assert len(result["width"]) == 5
        assert len(result["kind"]) == 5
        assert result["scale"] == genome["scale"]
        changed += result.id != genome.id
    assert changed > 50


def test_compress_handles_n_m_sparsity():
    space = search_space_from_dict({
        "name": "sparse", "kind": "transformer",
        "genes": {"n_layer": [4], "d_model": [64], "sparsity_mlp": {"choices": [0.0, 0.5, "2:4"], "per_layer": True}},
        "fixed": {"vocab_size": 256, "context_length": 16},
    })
    start = space.canonical({"n_layer": 4, "d_model": 64, "sparsity_mlp": ["2:4", "2:4", "2:4", 0.0]})
    moved_to = set()
    for seed in range(20):
        result = compress(start, space, random.Random(seed))
        assert result is not None
        # Only the dense layer can prune more, and 0.5 and "2:4" both prune half.
        assert result["sparsity_mlp"][:3] == ["2:4", "2:4", "2:4"]
        moved_to.add(result["sparsity_mlp"][3])
    assert moved_to == {0.5, "2:4"}
    done = space.canonical({"n_layer": 4, "d_model": 64, "sparsity_mlp": ["2:4", 0.5, "2:4", 0.5]})
    assert compress(done, space, random.Random(0)) is None


def test_compress_on_layered_space_with_n_m():
    space = layered_space()
    genome = space.sample(random.Random(5))
    genome = space.canonical(genome.replace(n_layer=4, sparsity_mlp=["2:4", "2:4", "2:4", "2:4"]))
    for seed in range(20):
        result = compress(genome, space, random.Random(seed))
        assert result is not None
        assert result["sparsity_mlp"] == ["2:4"] * 4


def test_compress_orders_sparsity_by_pruned_share():
    space = search_space_from_dict({
        "name": "sparse", "kind": "transformer",
        "genes": {"d_model": [64], "sparsity": [0.0, 0.25, "2:4", "1:4"]},
        "fixed": {"vocab_size": 256, "context_length": 16, "n_layer": 1},
    })
    path = []
    genome = space.canonical({"d_model": 64, "sparsity": 0.0})
    while genome is not None:
        path.append(genome["sparsity"])
        genome = compress(genome, space, random.Random(0))
    assert path == [0.0, 0.25, "2:4", "1:4"]


def test_compress_lowers_absolute_rank():
    space = search_space_from_dict({
        "name": "ranked", "kind": "transformer",
        "genes": {"d_model": [64], "rank_mlp": [0, 16, 32], "kv_bits": [16, 8, 4], "weight_format": ["fp16", "int8"]},
        "fixed": {"vocab_size": 256, "context_length": 16, "n_layer": 1},
    })
    genome = space.canonical({"d_model": 64, "rank_mlp": 0, "kv_bits": 16, "weight_format": "fp16"})
    seen = [genome]
    rng = random.Random(0)
    while (genome := compress(genome, space, rng)) is not None:
        seen.append(genome)
    ranks = [g["rank_mlp"] for g in seen]
    # 0 is full rank, so compression goes 0 -> 32 -> 16 and stops.
    assert [r for i, r in enumerate(ranks) if i == 0 or r != ranks[i - 1]] == [0, 32, 16]
    assert seen[-1]["kv_bits"] == 4
    assert seen[-1]["weight_format"] == "int8"
    assert len(seen) == 1 + 2 + 2 + 1


def test_operators_return_canonical_valid_lengths():
    space = load_search_space(ROOT / "search_spaces" / "compressed.yaml")
    rng = random.Random(6)
    archive = ArchiveView(front=[space.sample(rng) for _ in range(4)], evaluated=[space.sample(rng) for _ in range(10)])
    for _ in range(60):
        genome = space.sample(rng)
        for operator in OPERATORS:
            result = apply_operator(operator, genome, space, rng, archive)
            if result is None:
                continue
            assert result == space.canonical(result), operator
            for name in space.per_layer:
                assert len(result[name]) == space.layers, (operator, name)


def test_generic_space_has_no_transformer_operators():
    space = search_space_from_dict({
        "name": "g", "kind": "generic",
        "genes": {"x": {"type": "float", "low": 0.0, "high": 1.0}, "level": {"type": "int", "low": 0, "high": 8}},
    })
    names = available_operators(space)
    assert "compress" not in names
    assert not set(LAYER_OPERATORS) & set(names)
    assert "resample" in names


def test_front_model_favours_front_values():
    space = search_space_from_dict({
        "name": "g", "kind": "generic",
        "genes": {"a": [1, 2, 3, 4], "b": ["x", "y", "z"], "c": {"type": "float", "low": 0.0, "high": 1.0}},
    })
    rng = random.Random(0)
    front = [space.canonical({"a": 4, "b": "y", "c": 0.1}), space.canonical({"a": 4, "b": "y", "c": 0.9})]
    evaluated = front + [space.sample(rng) for _ in range(40)]
    archive = ArchiveView(front=front, evaluated=evaluated)
    parent = space.canonical({"a": 1, "b": "x", "c": 0.5})
    results = [apply_operator("front_model", parent, space, rng, archive) for _ in range(300)]
    share_a = sum(r["a"] == 4 for r in results) / len(results)
    share_b = sum(r["b"] == "y" for r in results) / len(results)
    assert share_a > 0.8
    assert share_b > 0.8
    assert all(r["c"] == 0.5 for r in results)
    assert apply_operator("front_model", parent, space, rng, ArchiveView(front=front[:1], evaluated=evaluated)) is None


def test_front_model_uses_good_set():
    space = search_space_from_dict({"name": "g", "kind": "generic", "genes": {"a": [1, 2, 3, 4], "b": ["x", "y", "z"]}})
    rng = random.Random(0)
    front = [space.canonical({"a": 4, "b": "y"}), space.canonical({"a": 4, "b": "z"})]
    good = [space.canonical({"a": 2, "b": "x"}), space.canonical({"a": 2, "b": "x"})]
    evaluated = front + good + [space.sample(rng) for _ in range(40)]
    parent = space.canonical({"a": 1, "b": "z"})
    with_good = ArchiveView(front=front, evaluated=evaluated, good=good)
    results = [apply_operator("front_model", parent, space, rng, with_good) for _ in range(300)]
    assert sum(r["a"] == 2 for r in results) / len(results) > 0.8
    assert sum(r["b"] == "x" for r in results) / len(results) > 0.8
    front_only = ArchiveView(front=front, evaluated=evaluated)
    results = [apply_operator("front_model", parent, space, rng, front_only) for _ in range(300)]
    assert sum(r["a"] == 4 for r in results) / len(results) > 0.8
