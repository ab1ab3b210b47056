"""Exact counts of valid genomes: agree with brute force, and finish fast on huge spaces."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from shinka.space import load_search_space
from shinka.space.counting import analyse_space

ROOT = Path(__file__).resolve().parents[1]

# Small spaces whose raw product brute force can enumerate (a few thousand genomes).
CASES = {
    "scalar": """\
name: scalar
kind: transformer
genes:
  n_layer: [1, 2]
  d_model: [32, 48, 64]
  n_head: [1, 2, 3, 4]
  n_kv_head: [1, 2, 4]
  kv_window: [0, 8, 32]
  kv_sinks: [0, 2, 8]
fixed:
  context_length: 32
constraints:
  - "kv_window > 0 or kv_sinks == 0"
""",
    "per_layer": """\
name: per_layer
kind: transformer
genes:
  n_layer: [1, 2, 3]
  d_model: [32, 48]
  n_head: {choices: [2, 3, 4], per_layer: true}
  n_kv_head: {choices: [1, 2], per_layer: true}
  positions: [learned, rope]
fixed:
  context_length: 16
constraints:
  - "n_head % n_kv_head == 0"
""",
    "fixed_lists": """\
name: fixed_lists
kind: transformer
genes:
  n_layer: [1, 2, 3]
  ffn_mult: {choices: [1.0, 2.0, 4.0], per_layer: true}
  d_model: [32, 64]
fixed:
  weight_format_mlp: [int8, ternary, int4]
constraints:
  - "weight_format_mlp != 'ternary' or ffn_mult > 1"
  - "ffn_mult * d_model <= 128"
""",
    "generic": """\
name: generic
kind: generic
genes:
  x: {choices: [1, 2, 3], per_layer: true, length: 3}
  y: [1, 2, 3, 4]
  z: [a, b]
constraints:
  - "x <= y"
""",
}


def load(tmp_path: Path, name: str):
    path = tmp_path / f"{name}.yaml"
    path.write_text(CASES[name])
    return load_search_space(path)


@pytest.mark.parametrize("name", sorted(CASES))
def test_count_matches_brute_force(tmp_path, name):
    space = load(tmp_path, name)
    analysis = analyse_space(space)
    valid = space.enumerate_valid()
    assert analysis is not None
    assert analysis.valid_genomes == len(valid)


@pytest.mark.parametrize("name", sorted(CASES))
def test_architectures_match_canonical_forms(tmp_path, name):
    space = load(tmp_path, name)
    analysis = analyse_space(space)
    canonical = {space.canonical(genome).id for genome in space.enumerate_valid()}
    assert analysis.valid_architectures == len(canonical)


def test_generic_constraint_binds_every_element(tmp_path):
    space = load(tmp_path, "generic")
    assert space.is_valid({"x": [1, 2, 3], "y": 3, "z": "a"})
    assert not space.is_valid({"x": [1, 2, 3], "y": 2, "z": "a"})


def test_compressed_space_counted_fast():
    space = load_search_space(ROOT / "search_spaces" / "compressed.yaml")
    started = time.perf_counter()
    analysis = analyse_space(space)
    elapsed = time.perf_counter() - started
    assert analysis is not None
    assert analysis.valid_genomes > 10**15
    assert analysis.valid_architectures < analysis.valid_genomes
    assert elapsed < 30  # generous; about 0.3 s on a laptop core


def test_dead_value_found(tmp_path):
    path = tmp_path / "dead.yaml"
    path.write_text(CASES["scalar"].replace("n_kv_head: [1, 2, 4]", "n_kv_head: [1, 2, 4, 5]"))
    analysis = analyse_space(load_search_space(path))
    dead = [(name, value) for name, value, _ in analysis.dead_values()]
    assert ("n_kv_head", 5) in dead


def test_no_dead_values_in_shipped_spaces():
    for name in ("tiny.yaml", "compressed.yaml"):
        analysis = analyse_space(load_search_space(ROOT / "search_spaces" / name))
        assert analysis.dead_values() == [], name


def test_continuous_gene_not_counted(tmp_path):
    path = tmp_path / "float.yaml"
    path.write_text("name: f\nkind: generic\ngenes:\n  x: {type: float, low: 0, high: 1}\n")
    assert analyse_space(load_search_space(path)) is None
