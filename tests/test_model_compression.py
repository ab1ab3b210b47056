"""Compressed training: every compression kind learns, masks and STE behave, genomes round-trip."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import torch

from shinka.cost.counts import parameter_counts
from shinka.export import load_model, save_candidate
from shinka.model.arch import arch_from_values
from shinka.model.formats import parse_sparsity
from shinka.model.quant import LowRankLinear, QuantLinear, compress_weight, sparsity_mask
from shinka.model.transformer import Transformer, count_parameters
from shinka.space import load_search_space

ROOT = Path(__file__).resolve().parents[1]
TEXT = (
    b"the quick brown fox jumps over the lazy dog. "
    b"pack my box with five dozen liquor jugs. "
    b"how vexingly quick daft zebras jump! "
) * 40
BASE = {"vocab_size": 256, "context_length": 32, "n_layer": 2, "d_model": 64, "n_head": 4}
KINDS = {
    "int8": {"weight_format": "int8"},
    "int4 group 16": {"weight_format": "int4", "group_size": 16},
    "ternary": {"weight_format": "ternary"},
    "2:4": {"sparsity": "2:4"},
    "unstructured 0.5": {"sparsity": 0.5},
    "ternary + 2:4": {"weight_format": "ternary", "sparsity": "2:4"},
    "low rank": {"rank_ratio": 0.5},
    "absolute rank per projection": {"rank_q": 8, "rank_down": 16, "rank_mlp": 24},
    "per layer mix": {
        "weight_format_mlp": ["int4", "ternary"], "sparsity_attention": ["2:4", 0.25],
        "ffn_mult": [2.0, 4.0], "n_kv_head": [1, 2], "kv_bits": 4, "kv_window": 16, "kv_sinks": 2,
    },
    "llama style": {
        "mlp": "swiglu", "norm": "rmsnorm", "positions": "rope", "tie_embeddings": False, "bias": False,
        "weight_format_embedding": "int8", "sparsity_embedding": "2:4", "n_kv_head": 1,
    },
}


def train_losses(values: dict, steps: int = 40, seed: int = 0) -> list[float]:
    """Train a fresh model on TEXT and return the loss of every step."""
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    model = Transformer(arch_from_values(values))
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    data = torch.tensor(list(TEXT), dtype=torch.long)
    length = values["context_length"]
    losses = []
    for _ in range(steps):
        starts = torch.randint(0, len(data) - length - 1, (8,), generator=generator)
        batch = torch.stack([data[s : s + length + 1] for s in starts.tolist()])  # (8, length + 1)
        _, loss = model(batch[:, :-1], batch[:, 1:])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_compressed_training_loss_falls(kind):
    losses = train_losses({**BASE, **KINDS[kind]})
    first, last = sum(losses[:3]) / 3, sum(losses[-5:]) / 5
    assert last < first - 1.0, (first, last)


def test_mask_applied_in_forward():
    layer = QuantLinear(16, 8, weight_format="int8", sparsity="2:4")
    used = layer.compression.apply(layer.weight, training=True)  # (8, 16)
    nonzero_per_group = (used.detach().reshape(8, 4, 4) != 0).sum(-1)
    assert int(nonzero_per_group.max()) <= 2


def test_mask_recomputed_each_forward():
    layer = QuantLinear(8, 4, sparsity="2:4")
    before = sparsity_mask(layer.weight, layer.sparsity)
    with torch.no_grad():
        layer.weight.mul_(torch.where(before, 0.01, 100.0))  # pruned weights become the largest
    after = (layer.compression.apply(layer.weight, training=True).detach() != 0)
    assert torch.equal(after, ~before)


def test_straight_through_reaches_pruned_weights():
    torch.manual_seed(0)
    layer = QuantLinear(16, 8, weight_format="ternary", sparsity=0.5)
    layer(torch.randn(4, 16)).pow(2).sum().backward()
    pruned = ~sparsity_mask(layer.weight, layer.sparsity)
    assert bool((layer.weight.grad[pruned] != 0).any())


def test_unstructured_kept_count_exact():
    weight = torch.randn(33, 17)
    for ratio in (0.1, 0.37, 0.5, 0.9):
        sparsity = parse_sparsity(ratio)
        assert int(sparsity_mask(weight, sparsity).sum()) == sparsity.kept(33, 17)


def test_nm_partial_group():
    weight = torch.randn(3, 10)  # groups of 4: 4, 4, 2
    mask = sparsity_mask(weight, parse_sparsity("3:4"))
    assert mask.sum(dim=1).tolist() == [8, 8, 8]
    assert parse_sparsity("3:4").kept(3, 10) == 24


def test_eval_cache_follows_weight_updates():
    torch.manual_seed(0)
    layer = QuantLinear(16, 8, weight_format="int4", group_size=8).eval()
    x = torch.randn(2, 16)
    first = layer(x)
    with torch.no_grad():
        layer.weight.add_(0.5)
    second = layer(x)
    expected = x @ compress_weight(layer.weight, "int4", 8).T + layer.bias
    assert not torch.equal(first, second)
    assert torch.allclose(second, expected, atol=1e-6)


def test_low_rank_modules_built():
    model = Transformer(arch_from_values({**BASE, "rank_mlp": 16, "rank_ratio_q": 0.25}))
    block = model.blocks[0]
    assert isinstance(block.mlp.up, LowRankLinear)
    assert block.mlp.up.rank == 16
    assert isinstance(block.attention.q_proj, LowRankLinear)
    assert block.attention.q_proj.rank == 16
    assert isinstance(block.attention.k_proj, QuantLinear)


RICH = """\
name: rich
kind: transformer
genes:
  n_layer: [1, 2, 3]
  d_model: [32, 48, 64]
  n_head: {choices: [1, 2, 4], per_layer: true}
  n_kv_head: {choices: [1, 2], per_layer: true}
  head_dim: [null, 8, 16]
  ffn_mult: {choices: [1.0, 2.5, 4.0], per_layer: true}
  mlp: [gelu, swiglu]
  norm: [layernorm, rmsnorm]
  positions: [learned, rope]
  tie_embeddings: [true, false]
  bias: [true, false]
  qkv_bias: [null, true, false]
  weight_format_attention: {choices: [fp16, int8, int4, ternary], per_layer: true}
  weight_format_mlp: {choices: [fp16, int8, int4, ternary], per_layer: true}
  weight_format_embedding: [fp16, int8, int4]
  group_size_mlp: [0, 16]
  sparsity_attention: {choices: [0.0, 0.3, "2:4", "1:8"], per_layer: true}
  sparsity_embedding: [0.0, "2:4"]
  rank_ratio_attention: {choices: [1.0, 0.5, 0.25], per_layer: true}
  rank_up: {choices: [0, 4, 12], per_layer: true}
  rank_ratio_down: [1.0, 0.5]
  kv_bits: [16, 8, 4]
  kv_window: [0, 8]
  kv_sinks: [0, 2]
fixed:
  vocab_size: 97
  context_length: 24
constraints:
  - "n_head % n_kv_head == 0"
"""


def test_parameter_count_matches_cost_model(tmp_path):
    path = tmp_path / "rich.yaml"
    path.write_text(RICH)
    rng = random.Random(0)
    for space in (load_search_space(path), load_search_space(ROOT / "search_spaces" / "compressed.yaml")):
        for _ in range(15):
            genome = space.sample(rng)
            arch = arch_from_values(space.values_of(genome))
            model = Transformer(arch)
            assert count_parameters(model) == parameter_counts(arch)["params_total"], genome


def test_genome_round_trip_same_logits(tmp_path):
    space = load_search_space(ROOT / "search_spaces" / "compressed.yaml")
    genome = space.sample(random.Random(5))
    arch = arch_from_values(space.values_of(genome))
    torch.manual_seed(0)
    model = Transformer(arch)
    train_batch = torch.randint(0, 256, (2, 33))
    _, loss = model(train_batch[:, :-1], train_batch[:, 1:])
    loss.backward()  # one step so that weights differ from the initialization
    torch.optim.SGD(model.parameters(), lr=0.1).step()
    model.eval()
    save_candidate(tmp_path / "candidate", arch, genome.to_dict(), model.state_dict(), {"val_bpb": 1.0})
    loaded, document = load_model(tmp_path / "candidate")
    idx = torch.randint(0, 256, (2, 20))
    assert document["genome"] == genome.to_dict()
    assert loaded.arch == arch
    assert torch.equal(model(idx)[0], loaded(idx)[0])


def test_freeze_keeps_logits_close():
    torch.manual_seed(0)
    model = Transformer(arch_from_values({**BASE, "weight_format": "int4", "group_size": 16, "sparsity": "2:4"})).eval()
    idx = torch.randint(0, 256, (2, 16))
    before = model(idx)[0]
    model.freeze()
    after = model(idx)[0]
    # Only the fp16 embedding differs: freeze rounds it to half precision, training does not.
    assert torch.allclose(before, after, atol=2e-3)
    weight = model.blocks[0].mlp.up.weight
    assert int((weight.reshape(weight.shape[0], -1, 4) != 0).sum(-1).max()) <= 2
