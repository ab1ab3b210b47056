"""Roofline estimates: hand-worked cases on a round-number profile, formats, low rank, memory and energy."""

from __future__ import annotations

import pytest

from shinka.cost.counts import decode_operators, prefill_operators
from shinka.hardware.profile import HardwareProfile, load_named_profile
from shinka.hardware.roofline import DEQUANT_FLOPS_PER_WEIGHT, estimate, fits_memory, memory_bytes, pass_terms
from shinka.model.arch import arch_from_values

# Compute at 2e11 * 0.5 = 1e11 FLOP/s and memory at 100e9 * 0.5 = 5e10 bytes/s: the ridge is 2 FLOP per byte.
ROUND = HardwareProfile(
    name="round",
    kind="cpu",
    peak_flops={"fp16": 2e11},
    memory_bandwidth_gbs=100,
    memory_gb=1,
    power_idle_w=10,
    power_peak_w=100,
    energy_pj_per_flop={"fp16": 1.0},
    energy_pj_per_dram_byte=100,
    operator_overhead_us=1,
    efficiency={"compute": 0.5, "memory": 0.5},
)
COMPUTE_RATE = ROUND.peak_flops["fp16"] * ROUND.efficiency.compute  # 1e11 FLOP/s
MEMORY_RATE = ROUND.memory_bandwidth_gbs * 1e9 * ROUND.efficiency.memory  # 5e10 bytes/s
KERNEL_S = ROUND.operator_overhead_us * 1e-6

# One block, d_model 64, one head of 64, GELU MLP of 256, 256-token vocabulary, fp16 weights with biases.
SMALL = arch_from_values(
    {"n_layer": 1, "d_model": 64, "n_head": 1, "ffn_mult": 4.0, "vocab_size": 256, "context_length": 64}
)

# Decode at 64 tokens of context, per operator: (FLOPs, bytes moved). Bytes are fp16 weights
# (2 bytes each) + fp16 biases + fp16 input and output activations, plus the KV cache.
SMALL_DECODE = {
    "q_proj": (2 * 64 * 64, 64 * 64 * 2 + 64 * 2 + (64 + 64) * 2),
    "k_proj": (2 * 64 * 64, 64 * 64 * 2 + 64 * 2 + (64 + 64) * 2),
    "v_proj": (2 * 64 * 64, 64 * 64 * 2 + 64 * 2 + (64 + 64) * 2),
    "o_proj": (2 * 64 * 64, 64 * 64 * 2 + 64 * 2 + (64 + 64) * 2),
    "up": (2 * 64 * 256, 64 * 256 * 2 + 256 * 2 + (64 + 256) * 2),
    "down": (2 * 256 * 64, 256 * 64 * 2 + 64 * 2 + (256 + 64) * 2),
    # q.k and weights.v over 64 cached keys; read 64 cached tokens and write one, K and V of 64 fp16 values each.
    "attention": (4 * 64 * 64, 2 * 64 * 2 + (64 + 1) * 2 * 64 * 2),
    # Tied embedding read as the output head; fp16 input, fp32 logits.
    "lm_head": (2 * 64 * 256, 256 * 64 * 2 + 64 * 2 + 256 * 4),
}


def test_decode_memory_bound_by_hand():
    for name, (flops, traffic) in SMALL_DECODE.items():
        assert flops / COMPUTE_RATE < traffic / MEMORY_RATE, name
    total_bytes = sum(traffic for _, traffic in SMALL_DECODE.values())
    expected_s = total_bytes / MEMORY_RATE + len(SMALL_DECODE) * KERNEL_S
    result = estimate(SMALL, ROUND, batch=1, context=64)
    assert result["latency_ms_per_token_decode"] == pytest.approx(expected_s * 1e3, rel=1e-9)


def test_decode_energy_by_hand():
    total_flops = sum(flops for flops, _ in SMALL_DECODE.values())
    total_bytes = sum(traffic for _, traffic in SMALL_DECODE.values())
    seconds = total_bytes / MEMORY_RATE + len(SMALL_DECODE) * KERNEL_S
    expected_j = (
        total_flops * ROUND.energy_pj_per_flop["fp16"] * 1e-12
        + total_bytes * ROUND.energy_pj_per_dram_byte * 1e-12
        + ROUND.power_idle_w * seconds
    )
    result = estimate(SMALL, ROUND, batch=1, context=64)
    assert result["energy_mj_per_token"] == pytest.approx(expected_j * 1e3, rel=1e-9)


def test_prefill_compute_bound_by_hand():
    tokens = 64
    mean_attended = sum(range(1, 65)) / 64  # causal: position t attends to t + 1 keys
    matmul_flops = tokens * (4 * 2 * 64 * 64 + 2 * 2 * 64 * 256)
    attention_flops = tokens * 4 * 64 * mean_attended
    lm_head_bytes = SMALL_DECODE["lm_head"][1]  # logits of the last position only: memory-bound
    expected_s = (matmul_flops + attention_flops) / COMPUTE_RATE + lm_head_bytes / MEMORY_RATE + 8 * KERNEL_S
    terms = pass_terms(SMALL, ROUND, prefill_operators(SMALL, 1, 64), tokens=64)
    efficiency = ROUND.efficiency
    bound = {
        op.name.split(".")[-1]: op.compute_s / efficiency.compute > op.memory_s / efficiency.memory
        for op in terms.operators
    }
    assert all(value for name, value in bound.items() if name != "lm_head")
    result = estimate(SMALL, ROUND, batch=1, context=64)
    assert result["latency_ms_prefill"] == pytest.approx(expected_s * 1e3, rel=1e-9)


def test_prefill_energy_per_prompt():
    one = estimate(SMALL, ROUND, batch=1, context=64)
    four = estimate(SMALL, ROUND, batch=4, context=64)
    assert four["energy_mj_prefill"] < one["energy_mj_prefill"] * 4
    assert four["latency_ms_prefill"] > one["latency_ms_prefill"]


def test_layer_and_step_overheads_add():
    profile = ROUND.model_copy(update={"layer_overhead_us": 3.0, "step_overhead_us": 20.0})
    base = estimate(SMALL, ROUND)["latency_ms_per_token_decode"]
    result = estimate(SMALL, profile)["latency_ms_per_token_decode"]
    assert result == pytest.approx(base + (3.0 * 1 + 20.0) * 1e-3, rel=1e-9)


def test_layer_token_overhead_scales_with_tokens():
    # SMALL has one block. A decode step at batch 2 processes 2 positions, and a prefill
    # at batch 2 and context 64 processes 128.
    profile = ROUND.model_copy(update={"layer_token_overhead_us": 0.5})
    base = estimate(SMALL, ROUND, batch=2, context=64)
    result = estimate(SMALL, profile, batch=2, context=64)
    assert result["latency_ms_per_token_decode"] == pytest.approx(
        base["latency_ms_per_token_decode"] + 1 * 2 * 0.5e-3, rel=1e-9
    )
    assert result["latency_ms_prefill"] == pytest.approx(base["latency_ms_prefill"] + 1 * 128 * 0.5e-3, rel=1e-9)


def test_estimate_source_is_estimated():
    result = estimate(SMALL, ROUND)
    assert set(result.sources.values()) == {"estimated"}
    assert set(result.sources) == set(result)


BIG = {
    "n_layer": 8, "d_model": 2048, "n_head": 16, "n_kv_head": 4, "ffn_mult": 4.0,
    "vocab_size": 32000, "context_length": 1024,
}


def test_lower_bits_lower_decode_on_bandwidth_bound_device():
    pi = load_named_profile("raspberry-pi-5")
    fp16 = arch_from_values({**BIG, "weight_format": "fp16"})
    terms = pass_terms(fp16, pi, decode_operators(fp16), tokens=1)
    linear = [op for op in terms.operators if "attention" not in op.name]
    assert all(op.memory_s / pi.efficiency.memory > op.compute_s / pi.efficiency.compute for op in linear)
    latencies = [
        estimate(arch_from_values({**BIG, "weight_format": fmt}), pi)["latency_ms_per_token_decode"]
        for fmt in ("fp16", "int8", "int4", "ternary")
    ]
    assert latencies[1] < latencies[0]
    assert latencies[2] < latencies[1]
    assert latencies[3] < latencies[2]


def test_dequant_charged_without_native_format():
    arch = arch_from_values({**BIG, "weight_format": "int4"})
    native = HardwareProfile(**{**ROUND.model_dump(), "peak_flops": {"fp16": 2e11, "int4": 8e11}})
    terms = pass_terms(arch, ROUND, decode_operators(arch), tokens=1)
    up = next(op for op in terms.operators if op.name == "decode.layer0.up")
    assert up.dequant_flops == 2048 * 8192 * DEQUANT_FLOPS_PER_WEIGHT
    native_up = next(op for op in pass_terms(arch, native, decode_operators(arch), tokens=1).operators if op.name == "decode.layer0.up")
    assert native_up.dequant_flops == 0


def test_low_rank_counts_both_factors():
    dense = arch_from_values({**BIG, "rank_ratio": 1.0})
    factored = arch_from_values({**BIG, "rank_ratio": 0.25})
    dense_up = next(op for op in pass_terms(dense, ROUND, decode_operators(dense), tokens=1).operators if op.name.endswith("layer0.up"))
    low_up = next(op for op in pass_terms(factored, ROUND, decode_operators(factored), tokens=1).operators if op.name.endswith("layer0.up"))
    rank = 512  # 0.25 * min(2048, 8192)
    assert dense_up.kernels == 1
    assert low_up.kernels == 2
    assert low_up.flops == 2 * (2048 * rank + rank * 8192)


def test_runtime_format_reads_fp32_weights():
    eager = HardwareProfile(**{**ROUND.model_dump(), "peak_flops": {"fp32": 2e11}, "runtime_format": "fp32"})
    ternary = arch_from_values({**BIG, "weight_format": "ternary"})
    fp16 = arch_from_values({**BIG, "weight_format": "fp16"})
    up = {
        name: next(op for op in pass_terms(arch, eager, decode_operators(arch), tokens=1).operators if op.name.endswith("layer0.up"))
        for name, arch in (("ternary", ternary), ("fp16", fp16))
    }
    assert up["ternary"].traffic_bytes == up["fp16"].traffic_bytes
    assert up["ternary"].traffic_bytes == (2048 * 8192 + 8192) * 4 + (2048 + 8192) * 4
    assert up["ternary"].dequant_flops == 0


def test_runtime_format_memory_counts_fp32():
    eager = HardwareProfile(**{**ROUND.model_dump(), "peak_flops": {"fp32": 2e11}, "runtime_format": "fp32"})
    arch = arch_from_values({**BIG, "weight_format": "int4"})
    assert memory_bytes(arch, eager) > 2 * memory_bytes(arch, ROUND)


def test_kv_window_caps_decode_traffic():
    full = arch_from_values({**BIG, "kv_window": 0})
    windowed = arch_from_values({**BIG, "kv_window": 128})
    pi = load_named_profile("raspberry-pi-5")
    assert estimate(windowed, pi)["latency_ms_per_token_decode"] < estimate(full, pi)["latency_ms_per_token_decode"]


def test_fits_memory_small_device():
    tiny_memory = ROUND.model_copy(update={"memory_gb": 0.01})
    arch = arch_from_values(BIG)
    assert not fits_memory(arch, tiny_memory)
    assert estimate(arch, tiny_memory)["fits_memory"] == 0.0


def test_fits_memory_large_device():
    arch = arch_from_values(BIG)
    assert fits_memory(arch, load_named_profile("nvidia-h100-sxm"))
