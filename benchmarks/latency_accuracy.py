"""How well the roofline estimate on a calibrated local profile predicts measured latency.

Without --profile, first runs `shinka hardware calibrate` (shinka.hardware.calibrate)
into a temporary folder with the same thread count, so that one command
calibrates and checks. The calibration fits its terms on its own reference
transformers only. Then the script draws distinct random genomes from a search
space (seeded) and leaves out any genome that builds a reference transformer.
It builds each model with random weights, measures decode and prefill latency
on this machine with shinka.hardware.measure.measure_latency, and compares
them with shinka.hardware.roofline.estimate on the profile. It prints
per-genome rows and, per phase, the Spearman rank correlation, the median
absolute percentage error, and the shares of genomes within 10% and 25%.

Run on a quiet machine: other processes on the same cores slow some
measurements and not others. The script reports the load average and the CPU
share other processes used while it measured.

    .venv/bin/python benchmarks/latency_accuracy.py
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import psutil
import torch
from scipy.stats import spearmanr

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from shinka.hardware.calibrate import REFERENCE_GENES, calibrate  # noqa: E402
from shinka.hardware.measure import measure_latency  # noqa: E402
from shinka.hardware.microbench import cpu_description  # noqa: E402
from shinka.hardware.profile import load_profile  # noqa: E402
from shinka.hardware.roofline import estimate  # noqa: E402
from shinka.model.arch import arch_from_values  # noqa: E402
from shinka.model.transformer import Transformer  # noqa: E402
from shinka.space.search_space import load_search_space  # noqa: E402

PHASES = {"decode": "latency_ms_per_token_decode", "prefill": "latency_ms_prefill"}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--space", type=Path, default=ROOT / "search_spaces" / "tiny.yaml", help="search space YAML")
    parser.add_argument(
        "--profile", type=Path, default=None,
        help="profile YAML to check (default: calibrate this machine into a temporary folder first)",
    )
    parser.add_argument("--count", type=int, default=40, help="distinct genomes to draw (default 40)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the genome draw and the weights (default 0)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads for the measurement (default 2)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed passes per phase (default 2)")
    parser.add_argument("--repeats", type=int, default=7, help="timed passes per phase; the median counts (default 7)")
    parser.add_argument("--batch", type=int, default=1, help="sequences per pass (default 1)")
    parser.add_argument("--json", type=Path, default=None, help="also write every row and the summary to this file")
    parser.add_argument(
        "--wait-quiet", type=float, default=0.0,
        help="before each genome, wait up to this many seconds for CPU use by others to fall below 10%% (default 0)",
    )
    return parser.parse_args()


def draw_genomes(space, count: int, seed: int) -> tuple[list, int]:
    """Return `count` distinct valid genomes drawn with random.Random(seed), and how many were left out.

    A genome that builds the same architecture as a calibration reference
    transformer is left out, so that no checked genome was fitted on.
    """
    rng = random.Random(seed)
    genomes, seen, left_out = [], set(), 0
    for _ in range(count * 100):
        genome = space.sample(rng)
        if genome.id in seen:
            continue
        seen.add(genome.id)
        if is_reference(arch_from_values(space.values_of(genome))):
            left_out += 1
            continue
        genomes.append(genome)
        if len(genomes) == count:
            break
    return genomes, left_out


def is_reference(arch) -> bool:
    """Return whether `arch` is one of the calibration's reference transformers (at its vocabulary and context)."""
    fixed = {"vocab_size": arch.vocab_size, "context_length": arch.context_length}
    return any(arch_from_values({**fixed, **genes}) == arch for genes in REFERENCE_GENES)


def wait_for_quiet(limit_s: float, threshold: float = 10.0) -> float:
    """Wait until the CPUs are under `threshold` percent busy over 1 s, or `limit_s` passes; return seconds waited."""
    started = time.monotonic()
    while time.monotonic() - started < limit_s:
        if psutil.cpu_percent(interval=1.0) < threshold:
            break
    return time.monotonic() - started


class OthersUsage:
    """Context manager that adds up, over the blocks it wraps, the CPU time other processes used."""

    def __init__(self) -> None:
        self.elapsed_s = 0.0
        self.others_cpu_s = 0.0
        self._process = psutil.Process()

    def __enter__(self) -> "OthersUsage":
        self._start = (time.monotonic(), psutil.cpu_times(), self._process.cpu_times())
        return self

    def __exit__(self, *exc_info: object) -> None:
        started, cpu_before, own_before = self._start
        cpu_after, own_after = psutil.cpu_times(), self._process.cpu_times()
        busy = sum(getattr(cpu_after, f) - getattr(cpu_before, f) for f in ("user", "system", "nice"))
        own = (own_after.user - own_before.user) + (own_after.system - own_before.system)
        self.others_cpu_s += max(0.0, busy - own)
        self.elapsed_s += time.monotonic() - started

    @property
    def others_share(self) -> float:
        """Return the share of all CPUs that other processes used while inside the blocks."""
        return self.others_cpu_s / max(self.elapsed_s * (psutil.cpu_count() or 1), 1e-9)


def summarize(predicted: np.ndarray, measured: np.ndarray) -> dict[str, float]:
    """Return Spearman rho, median absolute percentage error and shares within 10% and 25%."""
    errors = np.abs(predicted - measured) / measured
    return {
        "spearman": float(spearmanr(predicted, measured).statistic),
        "mdape": float(np.median(errors)),
        "within_10": float(np.mean(errors <= 0.10)),
        "within_25": float(np.mean(errors <= 0.25)),
    }


def main() -> int:
    args = parse_args()
    space = load_search_space(args.space)
    genomes, left_out = draw_genomes(space, args.count, args.seed)
    context = arch_from_values(space.values_of(genomes[0])).context_length
    machine = cpu_description()
    print(f"machine: {machine['model']}, {machine['logical_cpus']} logical CPUs ({machine['physical_cores']} cores), "
          f"{machine['usable_cpus']} usable, {machine['system']}, torch {machine['torch']} ({machine['cpu_capability']})")

    calibration_error = None
    if args.profile is None:
        folder = Path(tempfile.mkdtemp(prefix="shinka-latency-"))
        started = time.monotonic()
        profile_path, profile, fit = calibrate(
            "latency-check", out_dir=folder, threads=args.threads, batch=args.batch, context=context
        )
        calibration_error = fit.median_abs_error
        print(f"calibrated {profile_path} in {time.monotonic() - started:.0f} s: median absolute error "
              f"{fit.median_abs_error:.1%} on {len(fit.relative_errors)} reference passes")
    else:
        profile_path, profile = args.profile, load_profile(args.profile)
    print(f"profile: efficiency compute {profile.efficiency.compute:.3g}, memory {profile.efficiency.memory:.3g}; "
          f"overhead us operator {profile.operator_overhead_us:.3g}, layer {profile.layer_overhead_us:.3g}, "
          f"layer and token {profile.layer_token_overhead_us:.3g}, step {profile.step_overhead_us:.3g}; "
          f"peak fp32 {profile.peak_flops['fp32'] / 1e9:.1f} GFLOP/s, "
          f"bandwidth {profile.memory_bandwidth_gbs:.1f} GB/s")
    print(f"{left_out} drawn genomes left out as calibration references")
    load_before = os.getloadavg()

    rows = []
    waited = 0.0
    usage = OthersUsage()
    for index, genome in enumerate(genomes):
        if args.wait_quiet > 0:
            waited += wait_for_quiet(args.wait_quiet)
        values = space.values_of(genome)
        arch = arch_from_values(values)
        torch.manual_seed(args.seed + index)
        model = Transformer(arch)
        with usage:
            measured = measure_latency(
                model, batch=args.batch, warmup=args.warmup, repeats=args.repeats, threads=args.threads,
                seed=args.seed,
            )
        predicted = estimate(arch, profile, batch=args.batch)
        row = {"genome": genome.id, "genes": dict(genome)}
        for phase, key in PHASES.items():
            row[f"{phase}_measured_ms"] = measured[key]
            row[f"{phase}_iqr_ms"] = measured[f"{key}_iqr"]
            row[f"{phase}_predicted_ms"] = predicted[key]
        rows.append(row)
        print(
            f"{index + 1:3d} {genome.id} decode {row['decode_measured_ms']:7.3f} ms (est {row['decode_predicted_ms']:7.3f})"
            f"  prefill {row['prefill_measured_ms']:7.3f} ms (est {row['prefill_predicted_ms']:7.3f})  "
            + " ".join(f"{k}={v}" for k, v in genome.items()),
            flush=True,
        )

    elapsed = usage.elapsed_s
    others_share = usage.others_share
    load_after = os.getloadavg()

    summary = {}
    for phase in PHASES:
        predicted = np.array([row[f"{phase}_predicted_ms"] for row in rows])
        measured = np.array([row[f"{phase}_measured_ms"] for row in rows])
        summary[phase] = summarize(predicted, measured)
        summary[phase]["median_measured_ms"] = float(np.median(measured))
        summary[phase]["median_relative_iqr"] = statistics.median(
            row[f"{phase}_iqr_ms"] / row[f"{phase}_measured_ms"] for row in rows
        )

    print()
    print(f"profile {profile_path.name}, {len(rows)} genomes of {args.space.name} (seed {args.seed}), "
          f"{args.threads} threads, batch {args.batch}, {args.repeats} repeats, "
          f"{elapsed:.0f} s measuring, {waited:.0f} s waiting for a quiet machine")
    print(f"load average before {load_before[0]:.2f}, after {load_after[0]:.2f}; "
          f"other processes used {others_share:.1%} of the CPUs while measuring")
    print()
    print(f"{'phase':8s} {'spearman':>8s} {'MdAPE':>7s} {'<=10%':>6s} {'<=25%':>6s} {'median ms':>10s} {'median IQR':>10s}")
    for phase, stats in summary.items():
        print(
            f"{phase:8s} {stats['spearman']:8.3f} {stats['mdape']:7.1%} {stats['within_10']:6.0%} "
            f"{stats['within_25']:6.0%} {stats['median_measured_ms']:10.3f} {stats['median_relative_iqr']:10.1%}"
        )
    if args.json is not None:
        document = {
            "summary": summary, "rows": rows, "others_cpu_share": others_share, "load_before": load_before,
            "load_after": load_after, "machine": machine, "settings": vars(args) | {"context": context},
            "calibration_median_abs_error": calibration_error, "profile": profile.model_dump(mode="json"),
        }
        args.json.write_text(json.dumps(document, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
