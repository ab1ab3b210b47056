"""Roofline estimates of latency, energy and memory from cost-model operators and a profile.

Each operator of a forward pass takes max(compute time, memory time) plus a
fixed cost per kernel it launches. Each transformer block adds a fixed cost and
a cost per token it processes, and each forward pass a fixed cost of its own.
docs/hardware_profiles.md gives the formulas.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from shinka.cost.counts import ACTIVATION_BYTES, Operator, activation_bytes_peak, cached_tokens, decode_operators
from shinka.cost.counts import kv_cache_bytes_per_token, layer_kv_bytes_per_token, parameter_counts
from shinka.cost.counts import prefill_operators, weight_bytes
from shinka.hardware.metrics import SourcedMetrics
from shinka.hardware.profile import RUNTIME_FORMAT_BYTES, HardwareProfile
from shinka.model.arch import ArchConfig, Projection, layer_projections

logger = logging.getLogger(__name__)

# FLOPs per weight to dequantize a low-bit code (unpack, scale) when a device
# lacks native arithmetic for the format. An estimate, not a measured figure.
DEQUANT_FLOPS_PER_WEIGHT = 2.0


@dataclass(frozen=True)
class OperatorTerms:
    """One operator's roofline inputs on a profile, before efficiencies and overheads.

    compute_s is its FLOPs, dequantization included, over the peak of its
    arithmetic format. memory_s is the bytes it moves over peak bandwidth.
    kernels counts the kernels it launches: two for a low-rank projection.
    """

    name: str
    arithmetic_format: str
    flops: float
    dequant_flops: float
    traffic_bytes: float
    compute_s: float
    memory_s: float
    kernels: int


@dataclass(frozen=True)
class PassTerms:
    """Roofline inputs of one forward pass (a decode step or a prefill).

    tokens is the number of token positions each block processes: batch for a
    decode step, batch * context for a prefill.
    """

    operators: tuple[OperatorTerms, ...]
    layers: int
    tokens: int

    @property
    def kernels(self) -> int:
        return sum(op.kernels for op in self.operators)


def _projections_by_operator(arch: ArchConfig) -> dict[str, Projection]:
    """Map `layer{i}.{projection}`, the suffix of a linear operator's name, to its Projection."""
    return {
        f"layer{index}.{projection.name}": projection
        for index, layer in enumerate(arch.layers)
        for projection in layer_projections(arch, layer)
    }


def _runtime_traffic(
    op: Operator, arch: ArchConfig, projection: Projection | None, layer: int | None, element: int
) -> float:
    """Return the bytes `op` moves when the runtime keeps every tensor at `element` bytes per value.

    Such a runtime stores pruned weights as zeros, so a projection moves all of its matrices.
    """
    activation = op.activation_bytes * element / ACTIVATION_BYTES
    if projection is not None:
        return projection.parameters() * element + activation
    if op.kv_bytes and layer is not None:
        config = arch.layers[layer]
        stored_per_token = layer_kv_bytes_per_token(arch, config)
        runtime_per_token = 2 * config.n_kv_head * config.head_dim * element
        return op.kv_bytes / stored_per_token * runtime_per_token + activation
    return op.weights * element + activation


def pass_terms(arch: ArchConfig, profile: HardwareProfile, operators: list[Operator], *, tokens: int) -> PassTerms:
    """Return the roofline inputs of `operators` (from decode_operators or prefill_operators) on `profile`.

    `tokens` is the number of positions the pass processes: batch for a decode
    step, batch * context for a prefill.

    Weights move at their layer's format and the KV cache at the genome's KV
    bits and window, as the cost model counts them. A profile with
    `runtime_format` moves every tensor at that format's width instead, because
    such a runtime stores weights dequantized (eager PyTorch keeps fp32).
    """
    projections = _projections_by_operator(arch)
    # NOTE: every byte moves at DRAM bandwidth, even for a model that fits in cache. For such
    # models only a calibrated efficiency.memory (at most 1) absorbs the faster cache.
    bandwidth = profile.memory_bandwidth_gbs * 1e9  # bytes/s
    terms = []
    for op in operators:
        suffix = op.name.split(".", 1)[1]  # "decode.layer0.q_proj" -> "layer0.q_proj"
        projection = projections.get(suffix)
        arithmetic, native = profile.arithmetic_format(op.weight_format)
        dequant_flops = op.weights * DEQUANT_FLOPS_PER_WEIGHT if not native and op.weights else 0.0
        compute_s = op.flops / profile.peak_flops[arithmetic]
        if dequant_flops:
            compute_s += dequant_flops / _dequant_peak(profile)
        if profile.runtime_format is not None:
            layer = int(suffix[5:].split(".", 1)[0]) if suffix.startswith("layer") else None
            traffic = _runtime_traffic(op, arch, projection, layer, RUNTIME_FORMAT_BYTES[profile.runtime_format])
        else:
            traffic = op.weight_bytes + op.activation_bytes + op.kv_bytes
        kernels = len(projection.matrices()) if projection is not None else 1
        terms.append(
            OperatorTerms(op.name, arithmetic, op.flops, dequant_flops, traffic, compute_s, traffic / bandwidth, kernels)
        )
    return PassTerms(tuple(terms), arch.n_layer, tokens)


def _dequant_peak(profile: HardwareProfile) -> float:
    """Return the FLOP/s dequantization runs at: fp32, or the largest peak without fp32."""
    return profile.peak_flops.get("fp32", max(profile.peak_flops.values()))


def pass_seconds(terms: PassTerms, profile: HardwareProfile) -> float:
    """Return the latency of one forward pass, in seconds.

    Sum over operators of max(compute_s / efficiency.compute, memory_s /
    efficiency.memory) + kernels * operator_overhead_us, plus layers *
    (layer_overhead_us + tokens * layer_token_overhead_us) and one step_overhead_us.
    """
    seconds = 0.0
    for op in terms.operators:
        seconds += max(op.compute_s / profile.efficiency.compute, op.memory_s / profile.efficiency.memory)
        seconds += op.kernels * profile.operator_overhead_us * 1e-6
    seconds += terms.layers * profile.layer_overhead_us * 1e-6
    seconds += terms.layers * terms.tokens * profile.layer_token_overhead_us * 1e-6
    return seconds + profile.step_overhead_us * 1e-6


def pass_joules(terms: PassTerms, profile: HardwareProfile, seconds: float) -> float:
    """Return the energy of one forward pass, in joules.

    FLOPs at the pJ/FLOP of their arithmetic format (dequantization FLOPs at
    the format it runs in), DRAM traffic at energy_pj_per_dram_byte, and
    power_idle_w for the whole `seconds`.
    """
    dequant_format = "fp32" if "fp32" in profile.peak_flops else max(profile.peak_flops, key=profile.peak_flops.get)
    joules = 0.0
    for op in terms.operators:
        joules += op.flops * profile.energy_per_flop_pj(op.arithmetic_format) * 1e-12
        joules += op.dequant_flops * profile.energy_per_flop_pj(dequant_format) * 1e-12
        joules += op.traffic_bytes * profile.energy_pj_per_dram_byte * 1e-12
    return joules + profile.power_idle_w * seconds


def memory_bytes(arch: ArchConfig, profile: HardwareProfile, batch: int = 1, context: int | None = None) -> float:
    """Return the bytes a model needs on `profile`: weights + KV cache of (batch, context) + peak activations.

    Weights and KV cache are at their stored formats, or at `runtime_format`
    when the profile sets one. Activations come from activation_bytes_peak
    (16-bit), scaled to the runtime format's width when one is set.
    """
    context = context or arch.context_length
    cached = batch * cached_tokens(arch, context)
    activations = activation_bytes_peak(arch, batch, context)
    if profile.runtime_format is None:
        return weight_bytes(arch) + cached * kv_cache_bytes_per_token(arch) + activations
    element = RUNTIME_FORMAT_BYTES[profile.runtime_format]
    kv_per_token = sum(2 * layer.n_kv_head * layer.head_dim * element for layer in arch.layers)
    weights = parameter_counts(arch)["params_total"] * element
    return weights + cached * kv_per_token + activations * element / ACTIVATION_BYTES


def fits_memory(arch: ArchConfig, profile: HardwareProfile, batch: int = 1, context: int | None = None) -> bool:
    """Return whether the model fits `profile.memory_gb`; a genome that does not is infeasible there."""
    return memory_bytes(arch, profile, batch, context) <= profile.memory_gb * 1e9


def estimate(arch: ArchConfig, profile: HardwareProfile, batch: int = 1, context: int | None = None) -> SourcedMetrics:
    """Estimate latency (ms), energy (mJ) and memory (MB, 1e6 bytes) of `arch` on `profile`.

    Decode is one step of `batch` sequences at `context` tokens of context;
    prefill is `batch` prompts of `context` tokens. energy_mj_per_token is the
    decode step's energy per sequence, and energy_mj_prefill the prefill's
    energy per prompt. fits_memory is 1.0 when memory_mb fits the profile's
    memory_gb, else 0.0. Every value's source is "estimated".
    """
    context = context or arch.context_length
    decode = pass_terms(arch, profile, decode_operators(arch, batch, context), tokens=batch)
    prefill = pass_terms(arch, profile, prefill_operators(arch, batch, context), tokens=batch * context)
    decode_seconds = pass_seconds(decode, profile)
    prefill_seconds = pass_seconds(prefill, profile)
    memory = memory_bytes(arch, profile, batch, context)
    values = {
        "latency_ms_per_token_decode": decode_seconds * 1e3,
        "latency_ms_prefill": prefill_seconds * 1e3,
        "energy_mj_per_token": pass_joules(decode, profile, decode_seconds) * 1e3 / batch,
        "energy_mj_prefill": pass_joules(prefill, profile, prefill_seconds) * 1e3 / batch,
        "memory_mb": memory / 1e6,
        "fits_memory": float(memory <= profile.memory_gb * 1e9),
    }
    return SourcedMetrics(values, source="estimated")
