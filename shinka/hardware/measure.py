"""Latency measurement of a built model on the machine that runs the task."""

from __future__ import annotations

import statistics
import time

import torch

from shinka.model.transformer import Transformer


def _quartiles(samples: list[float]) -> tuple[float, float, float]:
    if len(samples) < 2:
        return samples[0], samples[0], samples[0]
    q1, median, q3 = statistics.quantiles(samples, n=4, method="inclusive")
    return q1, median, q3


@torch.inference_mode()
def measure_latency(
    model: Transformer,
    *,
    batch: int = 1,
    context: int | None = None,
    warmup: int = 2,
    repeats: int = 5,
    seed: int = 0,
) -> dict[str, float]:
    """Time prefill and decode of `model` with its weights quantized once (`freeze`).

    Prefill: one forward pass of `batch` prompts of `context` tokens, timed
    `repeats` times after `warmup` passes. Decode: tokens generated one at a time
    with the KV cache from position context/2 to context - 1; each repeat gives
    the median per-token time. Returns medians and interquartile ranges in ms.
    """
    model.eval().freeze()
    context = context or model.arch.context_length
    generator = torch.Generator().manual_seed(seed)
    prompt = torch.randint(0, model.arch.vocab_size, (batch, context), generator=generator)

    prefill_times = []
    for i in range(warmup + repeats):
        started = time.perf_counter()
        model(prompt)
        if i >= warmup:
            prefill_times.append((time.perf_counter() - started) * 1e3)

    half = max(1, context // 2)
    decode_times = []
    for i in range(warmup + repeats):
        cache = model.new_cache()
        model(prompt[:, :half], cache=cache)
        steps = []
        for position in range(half, context):
            started = time.perf_counter()
            model(prompt[:, position : position + 1], cache=cache)
            steps.append((time.perf_counter() - started) * 1e3)
        if i >= warmup:
            decode_times.append(statistics.median(steps))

    prefill_q1, prefill_median, prefill_q3 = _quartiles(prefill_times)
    decode_q1, decode_median, decode_q3 = _quartiles(decode_times)
    return {
        "latency_ms_prefill": prefill_median,
        "latency_ms_prefill_iqr": prefill_q3 - prefill_q1,
        "latency_ms_per_token_decode": decode_median,
        "latency_ms_per_token_decode_iqr": decode_q3 - decode_q1,
    }
