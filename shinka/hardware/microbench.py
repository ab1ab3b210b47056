"""Microbenchmarks of this machine through torch: matrix-product rate, memory bandwidth, dispatch cost.

Each benchmark reports the best of several timed runs, because on a shared
machine slower runs are interference, not the hardware's rate.
"""

from __future__ import annotations

import logging
import os
import platform
import statistics
import time
from typing import Callable

import psutil
import torch
import torch.nn.functional as F

logger = logging.getLogger(__name__)


def cpu_description() -> dict[str, object]:
    """Return the CPU model, core counts, memory size and torch build of this machine.

    The model name comes from /proc/cpuinfo on Linux and from `platform` elsewhere.
    """
    model = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as stream:
            for line in stream:
                if line.lower().startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    model = model or platform.processor() or platform.machine() or "unknown CPU"
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS and Windows have no sched_getaffinity
        usable = psutil.cpu_count(logical=True) or 1
    return {
        "model": model,
        "logical_cpus": psutil.cpu_count(logical=True) or 1,
        "physical_cores": psutil.cpu_count(logical=False) or 1,
        "usable_cpus": usable,
        "memory_bytes": psutil.virtual_memory().total,
        "system": f"{platform.system()} {platform.release()}",
        "torch": torch.__version__,
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
    }


def best_seconds(run: Callable[[], object], *, warmup: int, repeats: int) -> float:
    """Return the fastest of `repeats` timed calls of `run` after `warmup` untimed ones, in seconds."""
    for _ in range(warmup):
        run()
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - started)
    return best


def matmul_flops(dtype: torch.dtype, sizes: tuple[int, ...], repeats: int = 5) -> float:
    """Return the best FLOP/s of square (n x n) @ (n x n) products at `dtype` over `sizes` (2n^3 FLOPs each)."""
    generator = torch.Generator().manual_seed(0)
    best = 0.0
    for n in sizes:
        a = torch.randn(n, n, generator=generator).to(dtype)  # (n, n)
        b = torch.randn(n, n, generator=generator).to(dtype)  # (n, n)
        seconds = best_seconds(lambda: torch.mm(a, b), warmup=2, repeats=repeats)
        best = max(best, 2 * n**3 / seconds)
    return best


def int8_matmul_ops(sizes: tuple[int, ...], repeats: int = 5) -> float | None:
    """Return the best int8 OP/s of torch._int_mm (int8 x int8 -> int32), or None where torch has none on CPU."""
    if not hasattr(torch, "_int_mm"):
        return None
    generator = torch.Generator().manual_seed(0)
    best = 0.0
    for n in sizes:
        a = torch.randint(-127, 128, (n, n), generator=generator, dtype=torch.int8)  # (n, n)
        b = torch.randint(-127, 128, (n, n), generator=generator, dtype=torch.int8)  # (n, n)
        try:
            seconds = best_seconds(lambda: torch._int_mm(a, b), warmup=2, repeats=repeats)
        except (RuntimeError, NotImplementedError) as error:
            logger.info("torch._int_mm is not available on this CPU: %s", error)
            return None
        best = max(best, 2 * n**3 / seconds)
    return best


def stream_bandwidth(total_bytes: int, repeats: int = 5) -> float:
    """Return the best bytes/s of a full fp32 sum (reads) and a copy (reads + writes) over `total_bytes`.

    Pick `total_bytes` well above the last-level cache, or the result measures the cache.
    """
    elements = max(1, total_bytes // 4)
    source = torch.ones(elements)  # (elements,)
    target = torch.empty_like(source)
    read_seconds = best_seconds(lambda: source.sum(), warmup=1, repeats=repeats)
    copy_seconds = best_seconds(lambda: target.copy_(source), warmup=1, repeats=repeats)
    return max(elements * 4 / read_seconds, 2 * elements * 4 / copy_seconds)


def dispatch_overhead_us(calls: int = 2000) -> float:
    """Return the median cost of one tiny F.linear call (1 x 8 input, 8 x 8 weight), in microseconds."""
    x = torch.zeros(1, 8)  # (1, 8)
    weight = torch.zeros(8, 8)  # (8, 8)
    samples = []
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(calls):
            F.linear(x, weight)
        samples.append((time.perf_counter() - started) / calls * 1e6)
    return statistics.median(samples)
