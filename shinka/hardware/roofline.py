"""Roofline estimates of latency, energy and memory from cost-model operators and a profile."""

from __future__ import annotations

from shinka.cost.counts import Operator, activation_bytes_peak, cached_tokens, decode_operators
from shinka.cost.counts import kv_cache_bytes_per_token, prefill_operators, weight_bytes
from shinka.hardware.profile import HardwareProfile
from shinka.model.arch import ArchConfig

# FLOPs per weight to dequantize a low-bit code (unpack, scale) when a device
# lacks native arithmetic for the format. An estimate, not a measured figure.
DEQUANT_FLOPS_PER_WEIGHT = 2.0


def operator_seconds(op: Operator, profile: HardwareProfile) -> tuple[float, float, float]:
    """Return (seconds, compute seconds, memory seconds) of one operator.

    seconds = max(compute, memory) + per-operator overhead. Compute runs at the
    format's peak times the compute efficiency; memory moves weights, activations
    and KV at bandwidth times the memory efficiency.
    """
    arithmetic, native = profile.arithmetic_format(op.weight_format)
    peak = profile.peak_flops[arithmetic] * profile.efficiency.compute
    compute = op.flops / peak
    if not native and op.weights:
        dequant_peak = profile.peak_flops.get("fp32", max(profile.peak_flops.values())) * profile.efficiency.compute
        compute += op.weights * DEQUANT_FLOPS_PER_WEIGHT / dequant_peak
    bandwidth = profile.memory_bandwidth_gbs * 1e9 * profile.efficiency.memory
    memory = (op.weight_bytes + op.activation_bytes + op.kv_bytes) / bandwidth
    return max(compute, memory) + profile.operator_overhead_us * 1e-6, compute, memory


def _latency_and_energy(ops: list[Operator], profile: HardwareProfile) -> tuple[float, float]:
    seconds = 0.0
    dynamic_joules = 0.0
    for op in ops:
        op_seconds, _, _ = operator_seconds(op, profile)
        seconds += op_seconds
        arithmetic, _ = profile.arithmetic_format(op.weight_format)
        dynamic_joules += op.flops * profile.energy_per_flop_pj(arithmetic) * 1e-12
        traffic = op.weight_bytes + op.activation_bytes + op.kv_bytes
        dynamic_joules += traffic * profile.energy_pj_per_dram_byte * 1e-12
    return seconds, dynamic_joules + profile.power_idle_w * seconds


def estimate(arch: ArchConfig, profile: HardwareProfile, batch: int = 1, context: int | None = None) -> dict[str, float]:
    """Estimate latency (ms), energy (mJ) and memory (MB, 1e6 bytes) of `arch` on `profile`.

    Decode is one token per sequence at `context` tokens of context; prefill is
    `batch` prompts of `context` tokens. energy_mj_per_token is the decode energy
    of one token; energy_mj_prefill is the energy of the whole prefill.
    """
    context = context or arch.context_length
    decode_seconds, decode_joules = _latency_and_energy(decode_operators(arch, batch, context), profile)
    prefill_seconds, prefill_joules = _latency_and_energy(prefill_operators(arch, batch, context), profile)
    memory_bytes = (
        weight_bytes(arch)
        + batch * cached_tokens(arch, context) * kv_cache_bytes_per_token(arch)
        + activation_bytes_peak(arch, batch, context)
    )
    return {
        "latency_ms_per_token_decode": decode_seconds * 1e3,
        "latency_ms_prefill": prefill_seconds * 1e3,
        "energy_mj_per_token": decode_joules * 1e3 / batch,
        "energy_mj_prefill": prefill_joules * 1e3,
        "memory_mb": memory_bytes / 1e6,
        "fits_memory": float(memory_bytes <= profile.memory_gb * 1e9),
    }
