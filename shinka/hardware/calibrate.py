"""`shinka hardware calibrate`: measure this machine and write a profile whose estimates match it.

Two steps. Microbenchmarks (shinka.hardware.microbench) give the peaks: fp32
and bf16 matrix-product FLOP/s, int8 OP/s where torch._int_mm has a CPU
kernel, and streaming bandwidth. Then a fit sets the latency terms that spec
numbers cannot give. It times the decode and prefill of reference
transformers, and picks efficiency.compute, efficiency.memory and the four
overheads that minimize the squared relative error of the roofline latency
against those times (see fit_latency_terms).
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy.optimize import nnls

from shinka.cost.counts import decode_operators, prefill_operators
from shinka.errors import UserError
from shinka.hardware import microbench
from shinka.hardware.measure import measure_latency
from shinka.hardware.profile import PROFILES_DIR, Efficiency, HardwareProfile, load_profile, profile_path
from shinka.hardware.rapl import RaplReader
from shinka.hardware.roofline import PassTerms, pass_terms
from shinka.model.arch import ArchConfig, arch_from_values
from shinka.model.transformer import Transformer
from shinka.yamlio import dump_yaml, write_text_atomic

logger = logging.getLogger(__name__)

# Reference transformers timed for the fit. They span the tiny search space
# (1 to 4 layers, d_model 64 to 192, grouped KV heads, low rank, MLP width)
# and differ from the genomes the latency accuracy benchmark draws.
REFERENCE_GENES: tuple[dict[str, Any], ...] = (
    {"n_layer": 1, "d_model": 64, "n_head": 1, "n_kv_head": 1, "ffn_mult": 1.0},
    {"n_layer": 4, "d_model": 192, "n_head": 4, "n_kv_head": 2, "ffn_mult": 4.0},
    {"n_layer": 2, "d_model": 96, "n_head": 2, "n_kv_head": 1, "ffn_mult": 2.0, "rank_ratio": 0.5},
    {"n_layer": 3, "d_model": 128, "n_head": 4, "n_kv_head": 4, "ffn_mult": 4.0, "weight_format": "int8"},
    {"n_layer": 3, "d_model": 64, "n_head": 2, "n_kv_head": 2, "ffn_mult": 4.0, "rank_ratio": 0.25},
    {"n_layer": 1, "d_model": 192, "n_head": 4, "n_kv_head": 2, "ffn_mult": 4.0},
    {"n_layer": 3, "d_model": 192, "n_head": 2, "n_kv_head": 1, "ffn_mult": 1.0, "weight_format": "ternary"},
    {"n_layer": 4, "d_model": 128, "n_head": 1, "n_kv_head": 1, "ffn_mult": 2.0, "rank_ratio": 0.25},
    {"n_layer": 4, "d_model": 96, "n_head": 4, "n_kv_head": 1, "ffn_mult": 1.0, "rank_ratio": 0.5},
    {"n_layer": 2, "d_model": 192, "n_head": 1, "n_kv_head": 1, "ffn_mult": 2.0, "rank_ratio": 0.25},
)
QUICK_REFERENCES = 3

# Efficiency values tried by the fit: 40 log-spaced shares from 0.02 to 1.
EFFICIENCY_GRID = np.geomspace(0.02, 1.0, 40)


@dataclass(frozen=True)
class Sizes:
    """Problem sizes of one calibration run.

    Each reference is timed once per round, rounds run one after another, and
    the fastest round counts. Interference from other processes comes in
    bursts, so separate rounds give each reference more than one chance at a
    quiet spell.
    """

    matmul_sizes: tuple[int, ...]
    stream_bytes: int
    references: int
    warmup: int
    repeats: int
    rounds: int


FULL = Sizes(
    matmul_sizes=(256, 512, 1024), stream_bytes=256 * 2**20, references=len(REFERENCE_GENES), warmup=2, repeats=5,
    rounds=3,
)
# Quick mode keeps the stream above a 32 MiB last-level cache but does not fit the terms as well.
QUICK = Sizes(
    matmul_sizes=(128, 256), stream_bytes=64 * 2**20, references=QUICK_REFERENCES, warmup=1, repeats=2, rounds=1
)


@dataclass(frozen=True)
class ReferencePoint:
    """One timed reference pass: its roofline inputs and the measured latency (seconds)."""

    label: str
    phase: str  # "decode" or "prefill"
    terms: PassTerms
    measured_s: float


@dataclass(frozen=True)
class LatencyFit:
    """Fitted latency terms and the relative error they leave on the reference points."""

    efficiency_compute: float
    efficiency_memory: float
    operator_overhead_us: float
    layer_overhead_us: float
    layer_token_overhead_us: float
    step_overhead_us: float
    relative_errors: tuple[float, ...]  # (predicted - measured) / measured per point

    @property
    def median_abs_error(self) -> float:
        return float(np.median(np.abs(self.relative_errors)))


def fit_latency_terms(points: list[ReferencePoint]) -> LatencyFit:
    """Fit efficiencies and overheads of the roofline to measured latencies (least squares).

    Each pair (efficiency.compute, efficiency.memory) on EFFICIENCY_GRID fixes
    the roofline part, sum(max(compute_s / e_c, memory_s / e_m)). The rest of
    each latency is linear in the four overheads:
    kernels * operator + layers * layer + layers * tokens * layer_token + 1 * step.
    Non-negative least squares (scipy.optimize.nnls) solves for them, with
    every row divided by its measured latency so that the error is relative.
    The pair with the smallest residual wins.
    """
    if not points:
        raise ValueError("no reference points to fit")
    measured = np.array([p.measured_s for p in points])  # (P,)
    compute = [np.array([op.compute_s for op in p.terms.operators]) for p in points]
    memory = [np.array([op.memory_s for op in p.terms.operators]) for p in points]
    counts = np.array(
        [[p.terms.kernels, p.terms.layers, p.terms.layers * p.terms.tokens, 1.0] for p in points]
    )  # (P, 4)
    design = counts * 1e-6 / measured[:, None]  # overheads in us -> relative seconds
    best: tuple[float, float, float, np.ndarray] | None = None
    for e_c in EFFICIENCY_GRID:
        for e_m in EFFICIENCY_GRID:
            roofline = np.array([np.maximum(c / e_c, m / e_m).sum() for c, m in zip(compute, memory)])  # (P,)
            overheads, residual = nnls(design, (measured - roofline) / measured)
            if best is None or residual < best[0]:
                best = (residual, e_c, e_m, overheads)
    assert best is not None
    _, e_c, e_m, overheads = best
    predicted = np.array(
        [np.maximum(c / e_c, m / e_m).sum() for c, m in zip(compute, memory)]
    ) + counts @ overheads * 1e-6
    return LatencyFit(
        efficiency_compute=float(e_c),
        efficiency_memory=float(e_m),
        operator_overhead_us=float(overheads[0]),
        layer_overhead_us=float(overheads[1]),
        layer_token_overhead_us=float(overheads[2]),
        step_overhead_us=float(overheads[3]),
        relative_errors=tuple(float(x) for x in (predicted - measured) / measured),
    )


def reference_points(
    profile: HardwareProfile, sizes: Sizes, *, threads: int, batch: int, context: int, seed: int = 0
) -> list[ReferencePoint]:
    """Build, time and describe the reference transformers (random weights, seeded) on this machine.

    Each phase's latency is the fastest of `sizes.rounds` rounds of measure_latency medians.
    """
    genes_list = REFERENCE_GENES[: sizes.references]
    archs, models = [], []
    for index, genes in enumerate(genes_list):
        arch = arch_from_values({"vocab_size": 256, "context_length": context, **genes})
        torch.manual_seed(seed + index)
        archs.append(arch)
        models.append(Transformer(arch))
    fastest = [{"decode": math.inf, "prefill": math.inf} for _ in models]
    for _ in range(sizes.rounds):
        for model, best in zip(models, fastest):
            timed = measure_latency(
                model, batch=batch, context=context, warmup=sizes.warmup, repeats=sizes.repeats, threads=threads
            )
            best["decode"] = min(best["decode"], timed["latency_ms_per_token_decode"] * 1e-3)
            best["prefill"] = min(best["prefill"], timed["latency_ms_prefill"] * 1e-3)
    points = []
    for genes, arch, best in zip(genes_list, archs, fastest):
        label = ",".join(f"{key}={value}" for key, value in genes.items())
        decode = pass_terms(arch, profile, decode_operators(arch, batch, context), tokens=batch)
        prefill = pass_terms(arch, profile, prefill_operators(arch, batch, context), tokens=batch * context)
        points.append(ReferencePoint(label, "decode", decode, best["decode"]))
        points.append(ReferencePoint(label, "prefill", prefill, best["prefill"]))
        logger.debug("reference %s: %s", label, best)
    return points


def _significant(value: float, digits: int = 4) -> float:
    return float(f"{value:.{digits}g}")


def _carried_fields(path: Path) -> tuple[dict[str, Any], dict[str, str]]:
    """Return the fields calibration cannot measure, and their sources, from an existing valid profile."""
    if not path.is_file():
        return {}, {}
    try:
        old = load_profile(path)
    except UserError as error:
        logger.warning("not reusing %s: %s", path, error)
        return {}, {}
    names = ("power_idle_w", "power_peak_w", "energy_pj_per_flop", "energy_pj_per_dram_byte", "ray_resource")
    fields = {name: getattr(old, name) for name in names if getattr(old, name) not in (None, {})}
    sources = {key: text for key, text in old.sources.items() if key.split(".")[0] in fields}
    return fields, sources


def measure_power(rapl: RaplReader, flops_per_second: float, seconds: float = 1.0) -> dict[str, float]:
    """Measure package power idle (sleeping) and under fp32 matrix products, in W, with RAPL.

    Returns power_idle_w, power_busy_w and the fp32 energy per FLOP in pJ,
    (busy - idle) / `flops_per_second`.
    """
    before = rapl.read()
    time.sleep(seconds)
    idle_w = rapl.joules_between(before, rapl.read()) / seconds
    a = torch.randn(512, 512)  # (512, 512)
    b = torch.randn(512, 512)  # (512, 512)
    before = rapl.read()
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        torch.mm(a, b)
    busy_w = rapl.joules_between(before, rapl.read()) / (time.perf_counter() - started)
    return {
        "power_idle_w": idle_w,
        "power_busy_w": busy_w,
        "energy_pj_per_flop_fp32": max(busy_w - idle_w, 1e-3) / flops_per_second * 1e12,
    }


def calibrate(
    name: str,
    *,
    out_dir: Path | None = None,
    threads: int | None = None,
    quick: bool = False,
    batch: int = 1,
    context: int = 64,
    rapl: RaplReader | None = None,
) -> tuple[Path, HardwareProfile, LatencyFit]:
    """Measure this machine, fit the latency terms, and write OUT_DIR/NAME.yaml atomically.

    The written profile sets runtime_format fp32, because the fit times the
    eager PyTorch model, which computes every weight format in fp32. It sets
    `measure: true` only for the name local-cpu. Fields calibration cannot
    measure without RAPL (power, energy per FLOP and per DRAM byte, ray_resource)
    are kept from the file it replaces, or else get documented estimates.
    """
    if not re.fullmatch(r"[a-z0-9][a-z0-9._-]*", name):
        raise UserError(
            "invalid profile name", field="--name", value=name,
            allowed="lowercase letters, digits, '.', '_' and '-', starting with a letter or digit",
        )
    path = profile_path(name, out_dir or PROFILES_DIR)
    sizes = QUICK if quick else FULL
    machine = microbench.cpu_description()
    threads = threads or int(machine["usable_cpus"])
    rapl = rapl if rapl is not None else RaplReader()
    today = dt.date.today().isoformat()
    where = f"{machine['model']}, {threads} threads, torch {machine['torch']}, {today}"
    logger.info("calibrating %s on %s", name, where)

    previous_threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        fp32 = microbench.matmul_flops(torch.float32, sizes.matmul_sizes)
        bf16 = microbench.matmul_flops(torch.bfloat16, sizes.matmul_sizes)
        int8 = microbench.int8_matmul_ops(sizes.matmul_sizes)
        bandwidth = microbench.stream_bandwidth(sizes.stream_bytes)
        dispatch_us = microbench.dispatch_overhead_us()
        power = measure_power(rapl, fp32) if rapl.available else None
    finally:
        torch.set_num_threads(previous_threads)

    peaks = {"fp32": _significant(fp32)}
    measured = f"measured {today} by shinka hardware calibrate, {threads} threads"
    sources = {"peak_flops.fp32": f"{measured}: best square fp32 torch.mm over n = {sizes.matmul_sizes}"}
    if bf16 >= fp32:
        peaks["bf16"] = _significant(bf16)
        sources["peak_flops.bf16"] = f"{measured}: best square bf16 torch.mm"
    else:
        logger.info("bf16 products (%.3g FLOP/s) are slower than fp32 here; bf16 left out", bf16)
    if int8 is not None and int8 > fp32:
        peaks["int8"] = _significant(int8)
        sources["peak_flops.int8"] = f"{measured}: best square torch._int_mm"
    else:
        logger.info("no int8 fast path (torch._int_mm: %s); int8 left out", int8)

    fields, carried_sources = _carried_fields(path)
    sources.update(carried_sources)
    usable = int(machine["usable_cpus"])
    fields.setdefault("power_peak_w", 10.0 * usable)
    fields.setdefault("power_idle_w", 2.5 * usable)
    for key in ("power_peak_w", "power_idle_w"):
        sources.setdefault(
            key, "estimate, no readable RAPL counter: 10 W per usable CPU at full load and a quarter of it "
            "static. Replace with the CPU's data sheet figure",
        )
    if power is not None:
        fields["power_idle_w"] = _significant(power["power_idle_w"])
        fields["power_peak_w"] = _significant(power["power_busy_w"])
        fields["energy_pj_per_flop"] = {"fp32": _significant(power["energy_pj_per_flop_fp32"])}
        sources["power_idle_w"] = f"{measured}: RAPL package energy over 1 s asleep"
        sources["power_peak_w"] = f"{measured}: RAPL package energy over 1 s of fp32 torch.mm"
        sources["energy_pj_per_flop.fp32"] = f"{measured}: (busy - idle power) / fp32 FLOP/s"

    draft = HardwareProfile(
        name=name,
        kind="cpu",
        description=f"{machine['model']}, {threads} threads, eager PyTorch {machine['torch']} (calibrated {today})",
        peak_flops=peaks,
        memory_bandwidth_gbs=_significant(bandwidth / 1e9),
        memory_gb=_significant(int(machine["memory_bytes"]) / 1e9),
        operator_overhead_us=_significant(dispatch_us),
        runtime_format="fp32",
        measure=name == "local-cpu",
        **fields,
    )
    points = reference_points(draft, sizes, threads=threads, batch=batch, context=context)
    fit = fit_latency_terms(points)

    data = draft.model_dump(mode="json", exclude_none=True)
    data["efficiency"] = Efficiency(
        compute=_significant(fit.efficiency_compute), memory=_significant(fit.efficiency_memory)
    ).model_dump()
    for key in ("operator_overhead_us", "layer_overhead_us", "layer_token_overhead_us", "step_overhead_us"):
        data[key] = _significant(getattr(fit, key))
    fitted = f"{measured}: fitted to decode and prefill of {len(points) // 2} reference transformers (batch {batch}, context {context})"
    sources.update({
        "memory_bandwidth_gbs": f"{measured}: best of a {sizes.stream_bytes >> 20} MiB fp32 sum and copy",
        "memory_gb": f"{measured}: psutil.virtual_memory().total",
        "efficiency.compute": fitted,
        "efficiency.memory": fitted,
        "operator_overhead_us": fitted,
        "layer_overhead_us": fitted,
        "layer_token_overhead_us": fitted,
        "step_overhead_us": fitted,
        "runtime_format": "eager PyTorch stores fake-quantized weights, activations and KV cache in fp32",
    })
    sources.setdefault(
        "energy_pj_per_dram_byte",
        "default: 1.3 nJ per 64-bit DRAM access (Horowitz, ISSCC 2014, 45 nm) / 8 bytes",
    )
    data["sources"] = dict(sorted(sources.items()))

    header = (
        f"# Written by `shinka hardware calibrate --name {name}`{' --quick' if quick else ''} on {today}.\n"
        f"# Machine: {machine['model']}, {machine['logical_cpus']} logical CPUs "
        f"({machine['physical_cores']} cores), {machine['system']}, torch {machine['torch']} "
        f"({machine['cpu_capability']}), {threads} threads.\n"
        f"# Latency terms fitted on {len(points)} reference passes: median absolute error "
        f"{fit.median_abs_error:.1%}. Microbenchmark dispatch cost: {dispatch_us:.2f} us per tiny F.linear.\n"
    )
    write_text_atomic(path, header + dump_yaml(data))
    profile = load_profile(path)
    logger.info("wrote %s", path)
    if not math.isfinite(fit.median_abs_error):
        logger.warning("the fit left non-finite errors; check the reference timings")
    return path, profile, fit
