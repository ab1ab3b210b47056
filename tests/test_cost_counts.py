"""Cost model: FLOPs, stored bytes, KV cache and memory, and `shinka estimate --json`."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from shinka.cost.counts import (
    flops_per_token_decode,
    flops_per_token_prefill,
    kv_cache_bytes_per_token,
    parameter_counts,
    summarize,
    weight_bytes,
)
from shinka.cost.storage import weight_bytes_by_part
from shinka.model.arch import arch_from_values, layer_projections
from shinka.model.formats import matrix_storage, parse_sparsity

ROOT = Path(__file__).resolve().parents[1]
SHINKA = str(ROOT / ".venv" / "bin" / "shinka")
SMALL = {"vocab_size": 64, "context_length": 32, "n_layer": 2, "d_model": 32, "n_head": 4}


@pytest.mark.parametrize(
    "shape, weight_format, group, sparsity, expected",
    [
        ((8, 16), "fp16", 0, 0.0, 256),  # 128 weights x 2 bytes
        ((8, 16), "int8", 0, 0.0, 128 + 16),  # codes + one scale per row
        ((8, 16), "int4", 4, 0.0, 64 + 8 * 4 * 2),  # 4-bit codes + a scale per group of 4
        ((8, 16), "int4", 5, 0.0, 64 + 16),  # 5 does not divide 16: one scale per row
        ((8, 16), "ternary", 0, 0.0, 32 + 2),  # 2-bit codes + one scale
        ((8, 16), "ternary", 0, "2:4", 16 + 2 + 16),  # 64 kept x 2 bits, 64 x 2-bit indices
        ((8, 16), "int8", 0, 0.5, 64 + 16 + 16),  # 64 kept codes, one-bit mask of 128, row scales
        ((3, 10), "fp16", 0, "3:4", 48 + 6),  # rows keep 3 + 3 + 2: 24 values, 24 x 2-bit indices
        ((4, 9), "int4", 0, "1:8", 4 + 8 + 3),  # 2 kept per row: 8 x 4-bit codes, row scales, 8 x 3-bit indices
    ],
)
def test_matrix_storage_by_hand(shape, weight_format, group, sparsity, expected):
    assert matrix_storage(*shape, weight_format, group, parse_sparsity(sparsity)).total == expected


def test_weight_bytes_parts_sum():
    arch = arch_from_values({**SMALL, "weight_format": "int4", "group_size": 8, "sparsity_mlp": "2:4", "rank_q": 8})
    assert sum(weight_bytes_by_part(arch).values()) == weight_bytes(arch)


def test_weight_bytes_small_model_by_hand():
    arch = arch_from_values(
        {"vocab_size": 16, "context_length": 4, "n_layer": 1, "d_model": 8, "n_head": 2, "ffn_dim": 16,
         "weight_format": "ternary", "bias": False, "norm": "rmsnorm"}
    )
    embedding = 16 * 8 * 2  # fp16 token embedding, tied
    positions = 4 * 8 * 2
    attention = 4 * (8 * 8 * 2 // 8 + 2)  # four 8x8 ternary matrices with one scale each
    mlp = 2 * (16 * 8 * 2 // 8 + 2)  # up and down, 128 weights each
    norms = 3 * 8 * 2
    assert weight_bytes(arch) == embedding + positions + attention + mlp + norms


def test_flops_decode_attention_by_window():
    arch = arch_from_values({**SMALL, "kv_window": 8, "n_kv_head": 2})
    for position, attended in ((0, 1), (5, 6), (20, 8)):
        flops = flops_per_token_decode(arch, position)
        assert flops["attention"] == 2 * 4 * 4 * 8 * attended  # layers x 4 x heads x head_dim x keys


def test_flops_matmul_twice_weights():
    arch = arch_from_values({**SMALL, "mlp": "swiglu", "rank_mlp": 8})
    weights = sum(o * i for layer in arch.layers for p in layer_projections(arch, layer) for o, i in p.matrices())
    assert flops_per_token_prefill(arch)["matmul"] == 2 * weights


def test_flops_kept_halved_by_two_four():
    arch = arch_from_values({**SMALL, "sparsity": "2:4"})
    flops = flops_per_token_prefill(arch)
    assert flops["matmul_kept"] * 2 == flops["matmul"]


def test_kv_bytes_per_token_by_bits():
    for bits, per_value in ((16, 2), (8, 1), (4, 0.5)):
        arch = arch_from_values({**SMALL, "n_kv_head": 2, "kv_bits": bits})
        scales = 0 if bits == 16 else 2 * 2 * 2  # K and V, two KV heads, fp16 scale
        assert kv_cache_bytes_per_token(arch) == 2 * (2 * 2 * 8 * per_value + scales)


def test_kv_cache_whole_context_windowed():
    arch = arch_from_values({**SMALL, "kv_window": 8})
    summary = summarize(arch, batch=3, context=32)
    assert summary["kv_cache_bytes"] == 3 * 8 * summary["kv_cache_bytes_per_token"]


def test_memory_sums_parts():
    summary = summarize(arch_from_values(SMALL), batch=2, context=16)
    total = summary["weight_bytes"] + summary["kv_cache_bytes"] + summary["activation_bytes_peak"]
    assert summary["memory_bytes"] == total
    assert summary["activation_bytes_peak"] > 0


def test_params_kept_counts_pruning():
    dense = parameter_counts(arch_from_values(SMALL))
    sparse = parameter_counts(arch_from_values({**SMALL, "sparsity": 0.5}))
    assert sparse["params_total"] == dense["params_total"]
    assert sparse["params_kept"] < dense["params_kept"]


def test_compression_lowers_bits_per_parameter():
    int4 = summarize(arch_from_values({**SMALL, "weight_format": "int4", "weight_format_embedding": "int4"}))
    ternary = summarize(
        arch_from_values({**SMALL, "weight_format": "ternary", "sparsity": "2:4", "weight_format_embedding": "int4"})
    )
    assert ternary["bits_per_parameter"] < int4["bits_per_parameter"]


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([SHINKA, *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def test_estimate_json_keys(tmp_path):
    path = ROOT / "search_spaces" / "reference" / "gpt2-small.yaml"
    completed = run("estimate", str(path), "--profile", "local-cpu", "--batch", "2", "--context", "256", "--json", cwd=tmp_path)
    assert completed.returncode == 0, completed.stderr
    result = json.loads(completed.stdout)
    expected = {
        "params_total", "params_non_embedding", "flops_per_token_prefill", "flops_per_token_decode",
        "weight_bytes", "kv_cache_bytes_per_token", "latency_ms_prefill", "latency_ms_per_token_decode",
        "energy_mj_per_token", "memory_mb",
    }
    assert expected <= set(result)
    values = yaml.safe_load(path.read_text())["genes"]
    assert result["params_total"] == parameter_counts(arch_from_values(values))["params_total"]
    assert result["context"] == 256


def test_estimate_sampled_genome(tmp_path):
    space = ROOT / "search_spaces" / "compressed.yaml"
    sampled = run("space", "sample", str(space), "-n", "1", "--seed", "3", cwd=tmp_path)
    item = yaml.safe_load(sampled.stdout)[0]
    genome_file = tmp_path / "genome.yaml"
    genome_file.write_text(yaml.safe_dump(item))
    completed = run("estimate", str(genome_file), "--json", cwd=tmp_path)
    assert completed.returncode == 0, completed.stderr
    arch = arch_from_values({**item["fixed"], **item["genes"]})
    assert json.loads(completed.stdout)["weight_bytes"] == weight_bytes(arch)


def test_estimate_invalid_genome(tmp_path):
    genome_file = tmp_path / "genome.yaml"
    genome_file.write_text("genes:\n  d_model: 30\n  n_head: 4\n")
    completed = run("estimate", str(genome_file), "--json", cwd=tmp_path)
    assert completed.returncode == 2
    assert "not divisible by n_head" in completed.stderr
    assert "Traceback" not in completed.stderr


def test_estimate_context_beyond_genome(tmp_path):
    path = ROOT / "search_spaces" / "reference" / "gpt2-small.yaml"
    completed = run("estimate", str(path), "--context", "2048", "--json", cwd=tmp_path)
    assert completed.returncode == 2
    assert "allowed: an integer from 1 to 1024" in completed.stderr
