"""Latency, peak memory and (where RAPL is readable) energy of a built model on this machine."""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import logging
import statistics
import time
from contextlib import contextmanager
from typing import Iterator

import psutil
import torch

from shinka.hardware.metrics import SourcedMetrics
from shinka.hardware.rapl import RaplReader
from shinka.model.transformer import Transformer

logger = logging.getLogger(__name__)


def quartiles(samples: list[float]) -> tuple[float, float, float]:
    """Return (first quartile, median, third quartile) of `samples`, inclusive method."""
    if len(samples) < 2:
        return samples[0], samples[0], samples[0]
    q1, median, q3 = statistics.quantiles(samples, n=4, method="inclusive")
    return q1, median, q3


def rss_bytes() -> int:
    """Return this process's resident set size, in bytes (psutil)."""
    return psutil.Process().memory_info().rss


def release_free_memory() -> None:
    """Return freed heap pages to the OS (glibc malloc_trim), so that RSS tracks live memory.

    Without it, memory freed by an earlier task in the same process (a reused
    Ray worker) is reused without raising RSS, and a later peak goes unseen.
    Does nothing where the C library has no malloc_trim (macOS, musl).
    """
    name = ctypes.util.find_library("c")
    if name is None:
        return
    try:
        trim = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):
        return
    trim(0)


@contextmanager
def _rss_peak(model: torch.nn.Module) -> Iterator[list[int]]:
    """Sample RSS before and after every module's forward; yields the list of samples (bytes).

    Samples at module boundaries catch activations while they are alive; a
    workspace that lives only inside one torch operator is missed.
    """
    process = psutil.Process()
    samples = [process.memory_info().rss]

    def sample(*_: object) -> None:
        samples.append(process.memory_info().rss)

    handles = []
    for module in model.modules():
        handles.append(module.register_forward_pre_hook(sample))
        handles.append(module.register_forward_hook(sample))
    try:
        yield samples
    finally:
        for handle in handles:
            handle.remove()
        samples.append(process.memory_info().rss)


@contextmanager
def _threads(threads: int | None) -> Iterator[None]:
    previous = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Keep Python's garbage collector from running inside timed regions, as timeit does."""
    enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@torch.inference_mode()
def measure_latency(
    model: Transformer,
    *,
    batch: int = 1,
    context: int | None = None,
    warmup: int = 2,
    repeats: int = 5,
    seed: int = 0,
    threads: int | None = None,
    memory_baseline_bytes: int | None = None,
    rapl: RaplReader | None = None,
) -> SourcedMetrics:
    """Measure prefill and decode of `model` with its weights quantized once (`freeze`).

    Prefill: one forward pass of `batch` prompts of `context` tokens, timed
    `repeats` times after `warmup` passes. Decode: tokens generated one at a
    time with the KV cache from position context/2 to context - 1; each repeat
    gives the median per-token time. Latencies are medians over repeats, with
    interquartile ranges, in ms. `threads` sets torch's thread count for the
    measurement (restored after).

    measured_memory_mb: the RSS high-water mark of one prefill and one decode
    run minus `memory_baseline_bytes` (default: RSS at entry, after returning
    freed heap pages to the OS), in MB (1e6 bytes).

    energy_mj_prefill (per prompt) and energy_mj_per_token (per sequence and
    token) come from RAPL package counters and are present only when `rapl`
    (default: the system's powercap folder) is readable. Every value returned
    is measured; callers keep their estimates for the keys left out.
    """
    rapl = rapl if rapl is not None else RaplReader()
    with _threads(threads):
        model.eval().freeze()
        context = context or model.arch.context_length
        generator = torch.Generator().manual_seed(seed)
        prompt = torch.randint(0, model.arch.vocab_size, (batch, context), generator=generator)  # (B, T)
        half = max(1, context // 2)

        if memory_baseline_bytes is None:
            release_free_memory()
            memory_baseline_bytes = rss_bytes()
        with _rss_peak(model) as samples:
            model(prompt)
            cache = model.new_cache()
            model(prompt[:, :half], cache=cache)
            for position in range(half, context):
                model(prompt[:, position : position + 1], cache=cache)
        peak = max(samples)

        with _gc_paused():
            prefill_times, prefill_joules = _time_prefill(model, prompt, warmup, repeats, rapl)
            decode_times, decode_joules = _time_decode(model, prompt, half, warmup, repeats, rapl)

    result = SourcedMetrics(source="measured")
    prefill_q1, prefill_median, prefill_q3 = quartiles(prefill_times)
    decode_q1, decode_median, decode_q3 = quartiles(decode_times)
    result.set("latency_ms_prefill", prefill_median, "measured")
    result.set("latency_ms_prefill_iqr", prefill_q3 - prefill_q1, "measured")
    result.set("latency_ms_per_token_decode", decode_median, "measured")
    result.set("latency_ms_per_token_decode_iqr", decode_q3 - decode_q1, "measured")
    result.set("measured_memory_mb", max(0, peak - memory_baseline_bytes) / 1e6, "measured")
    if prefill_joules is not None and decode_joules is not None:
        decoded_tokens = repeats * (context - half) * batch
        result.set("energy_mj_prefill", prefill_joules * 1e3 / (repeats * batch), "measured")
        result.set("energy_mj_per_token", decode_joules * 1e3 / decoded_tokens, "measured")
    return result


def _read_energy(rapl: RaplReader) -> tuple[int, ...] | None:
    if not rapl.available:
        return None
    try:
        return rapl.read()
    except OSError as error:
        logger.warning("RAPL counters stopped being readable (%s); energy stays estimated", error)
        return None


def _time_prefill(
    model: Transformer, prompt: torch.Tensor, warmup: int, repeats: int, rapl: RaplReader
) -> tuple[list[float], float | None]:
    """Return the timed prefill durations (ms) and their total energy (J), None without RAPL."""
    times = []
    for _ in range(warmup):
        model(prompt)
    before = _read_energy(rapl)
    for _ in range(repeats):
        started = time.perf_counter()
        model(prompt)
        times.append((time.perf_counter() - started) * 1e3)
    after = _read_energy(rapl)
    joules = rapl.joules_between(before, after) if before is not None and after is not None else None
    return times, joules


def _time_decode(
    model: Transformer, prompt: torch.Tensor, half: int, warmup: int, repeats: int, rapl: RaplReader
) -> tuple[list[float], float | None]:
    """Return each timed repeat's median decode step (ms) and the steps' total energy (J), None without RAPL."""
    context = prompt.shape[1]
    medians = []
    joules: float | None = 0.0
    for index in range(warmup + repeats):
        timed = index >= warmup
        cache = model.new_cache()
        model(prompt[:, :half], cache=cache)
        before = _read_energy(rapl) if timed else None
        steps = []
        for position in range(half, context):
            started = time.perf_counter()
            model(prompt[:, position : position + 1], cache=cache)
            steps.append((time.perf_counter() - started) * 1e3)
        if not timed:
            continue
        medians.append(statistics.median(steps))
        after = _read_energy(rapl)
        if before is None or after is None or joules is None:
            joules = None
        else:
            joules += rapl.joules_between(before, after)
    return medians, joules
