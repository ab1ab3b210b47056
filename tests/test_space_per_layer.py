"""Per-layer genes: YAML form, the generic gene interface, genome ids and per-layer constraints."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
import yaml

from shinka.errors import UserError
from shinka.model.arch import arch_from_values
from shinka.space import Genome, load_search_space
from shinka.space.genes import CategoricalGene, PerLayerGene, gene_from_spec

SPACE = """\
name: layered
kind: transformer
genes:
  n_layer: [1, 2, 3]
  d_model: [32, 48]
  n_head: {choices: [2, 4], per_layer: true}
  n_kv_head: {choices: [1, 2], per_layer: true}
  ffn_mult: {choices: [1.0, 2.0], per_layer: true}
fixed:
  context_length: 16
constraints:
  - "n_head % n_kv_head == 0"
"""


def write(tmp_path: Path, text: str, name: str = "space.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_per_layer_length_is_largest_n_layer(tmp_path):
    space = load_search_space(write(tmp_path, SPACE))
    gene = space.genes["n_head"]
    assert isinstance(gene, PerLayerGene)
    assert gene.length == 3
    assert space.layers == 3


def test_per_layer_gene_interface():
    gene = PerLayerGene(name="ffn_mult", element=CategoricalGene(name="ffn_mult", choices=(1, 2, 4)), length=3)
    rng = random.Random(0)
    value = gene.sample(rng)
    assert isinstance(value, list)
    assert len(value) == 3
    assert gene.contains(value)
    assert not gene.contains(value[:2])
    assert not gene.contains([1, 2, 3])
    assert gene.cardinality() == 27
    moved = gene.neighbour(value, rng)
    assert sum(a != b for a, b in zip(value, moved)) == 1
    assert gene.distance([1, 1, 1], [4, 4, 4]) == 1.0
    assert gene.distance([1, 2, 4], [1, 2, 4]) == 0.0


def test_per_layer_spec_needs_length():
    with pytest.raises(UserError) as raised:
        gene_from_spec("x", {"choices": [1, 2], "per_layer": True})
    assert "genes.x.length" in str(raised.value)


def test_generic_space_per_layer_length(tmp_path):
    text = "name: g\nkind: generic\ngenes:\n  x: {choices: [1, 2], per_layer: true, length: 3}\n"
    space = load_search_space(write(tmp_path, text))
    assert space.genes["x"].cardinality() == 8


def test_genome_id_stable_for_lists():
    first = Genome({"a": [1, 2], "b": 3})
    second = Genome({"b": 3, "a": (1, 2)})
    assert first.id == second.id
    assert first["a"] == [1, 2]
    assert json.loads(json.dumps(first.to_dict())) == {"a": [1, 2], "b": 3}


def test_genome_yaml_round_trip(tmp_path):
    space = load_search_space(write(tmp_path, SPACE))
    genome = space.sample(random.Random(3))
    loaded = Genome(yaml.safe_load(yaml.safe_dump(genome.to_dict())))
    assert loaded.id == genome.id
    assert space.is_valid(loaded)


def test_constraint_checked_per_active_layer(tmp_path):
    text = SPACE.replace("n_kv_head: {choices: [1, 2], per_layer: true}", "n_kv_head: {choices: [1, 2, 4], per_layer: true}")
    space = load_search_space(write(tmp_path, text))
    base = {"n_layer": 2, "d_model": 32, "n_head": [2, 4, 2], "n_kv_head": [2, 1, 2], "ffn_mult": [1.0, 1.0, 1.0]}
    assert space.is_valid(base)
    four_kv_heads = {**base, "n_kv_head": [2, 4, 2]}  # layer 1: 4 % 4 == 0
    assert space.is_valid(four_kv_heads)
    broken = {**base, "n_kv_head": [4, 1, 2]}  # layer 0: 2 % 4 fails
    assert not space.is_valid(broken)
    inactive = {**base, "n_kv_head": [2, 1, 4]}  # layer 2 is past n_layer = 2
    assert space.is_valid(inactive)
    active = {**inactive, "n_layer": 3}
    assert not space.is_valid(active)


def test_per_layer_rule_names_layer(tmp_path):
    text = SPACE.replace("n_kv_head: {choices: [1, 2], per_layer: true}", "n_kv_head: {choices: [1, 2, 4], per_layer: true}")
    space = load_search_space(write(tmp_path, text))
    genome = {"n_layer": 2, "d_model": 32, "n_head": [2, 2, 2], "n_kv_head": [2, 4, 4], "ffn_mult": [1.0, 1.0, 1.0]}
    reason = space.violation(genome)
    assert reason is not None
    assert "layer 1" in reason


def test_sample_is_canonical(tmp_path):
    space = load_search_space(write(tmp_path, SPACE))
    rng = random.Random(0)
    for _ in range(20):
        genome = space.sample(rng)
        active = genome["n_layer"]
        assert genome["n_head"][active:] == [2] * (3 - active)
        assert genome["ffn_mult"][active:] == [1.0] * (3 - active)


def test_per_layer_values_reach_arch(tmp_path):
    space = load_search_space(write(tmp_path, SPACE))
    genome = {"n_layer": 3, "d_model": 32, "n_head": [2, 4, 4], "n_kv_head": [1, 2, 4 // 2], "ffn_mult": [1.0, 2.0, 1.0]}
    arch = arch_from_values(space.values_of(genome))
    assert [layer.n_head for layer in arch.layers] == [2, 4, 4]
    assert [layer.n_kv_head for layer in arch.layers] == [1, 2, 2]
    assert [layer.ffn_dim for layer in arch.layers] == [32, 64, 32]
    assert [layer.head_dim for layer in arch.layers] == [16, 8, 8]


def test_scalar_only_gene_rejects_per_layer(tmp_path):
    text = SPACE.replace("d_model: [32, 48]", "d_model: {choices: [32, 48], per_layer: true}")
    with pytest.raises(UserError) as raised:
        load_search_space(write(tmp_path, text))
    message = str(raised.value)
    assert "genes.d_model.per_layer" in message
    assert "n_head" in message


def test_short_arch_list_rejected():
    with pytest.raises(ValueError) as raised:
        arch_from_values({"n_layer": 3, "ffn_mult": [1.0, 2.0]})
    assert "ffn_mult" in str(raised.value)


def test_fixed_per_layer_list(tmp_path):
    text = SPACE + "  # per-layer fixed formats\n"
    text = text.replace("  context_length: 16\n", "  context_length: 16\n  weight_format_mlp: [int8, int4, ternary]\n")
    space = load_search_space(write(tmp_path, text))
    genome = space.sample(random.Random(1))
    arch = arch_from_values(space.values_of(genome))
    assert [layer.weight_format_mlp for layer in arch.layers] == ["int8", "int4", "ternary"][: genome["n_layer"]]


def test_both_rank_levels_rejected(tmp_path):
    text = SPACE.replace("genes:\n", "genes:\n  rank_mlp: [0, 8]\n  rank_ratio_mlp: [0.5, 1.0]\n")
    with pytest.raises(UserError) as raised:
        load_search_space(write(tmp_path, text))
    assert "rank_ratio_mlp" in str(raised.value)
