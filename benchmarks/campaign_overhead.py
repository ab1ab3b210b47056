"""Driver overhead per candidate, and the speedup of 2 Ray workers over 1.

Part 1 runs 2,000 evaluations whose training task returns at once (a
trivial objective computed from the architecture), with the journal,
checkpoints and MLflow (SQLite in a temporary folder) on, and reports the
driver's milliseconds per candidate in each phase. Part 2 runs evaluations
that each spin one core for about one second and compares the evaluation
loop's wall time (campaign setup and final outputs excluded) with 1 and 2
workers, median of --repeats runs each.

Usage: .venv/bin/python benchmarks/campaign_overhead.py [--evaluations 2000] [--spin-evaluations 16] [--repeats 3]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import ray
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from shinka.campaign.runner import Campaign  # noqa: E402

ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])


def trivial_training(arch_dict, train, validation, settings, threads):
    """Return at once with a validation loss made up from the architecture's size."""
    import math

    width = arch_dict["d_model"] * len(arch_dict["layers"])
    loss = 1.0 + 4.0 / math.log(width + 2)
    return {
        "status": "ok", "state_dict": {}, "val_loss": loss, "val_bpb": loss / math.log(2), "train_loss": loss,
        "train_seconds": 0.0, "train_steps": 0, "train_tokens": 0, "node_id": None,
    }


def spinning_training(arch_dict, train, validation, settings, threads):
    """Keep one core busy for one second, then return like trivial_training."""
    started = time.perf_counter()
    while time.perf_counter() - started < 1.0:
        sum(range(1000))
    return trivial_training(arch_dict, train, validation, settings, threads)


def write_config(folder: Path, evaluations: int, workers: int, strategy: str) -> Path:
    config = {
        "name": f"overhead-{strategy}-{workers}w",
        "seed": 0,
        "search_space": str(ROOT / "search_spaces" / "synthetic_transformer.yaml"),
        "objectives": ["val_bpb", "latency_ms_per_token_decode@raspberry-pi-5", "memory_mb@raspberry-pi-5"],
        "strategy": {"name": strategy},
        "budget": {"evaluations": evaluations},
        "proxy": {"max_corpus_bytes": 200_000},
        "hardware": {"profiles": ["raspberry-pi-5"]},
        "ray": {"workers": workers},
        "tracking": {"uri": f"sqlite:///{folder / 'mlflow.db'}", "log_models": 0},
        "output_dir": str(folder / "runs"),
    }
    path = folder / "campaign.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def run(folder: Path, evaluations: int, workers: int, strategy: str, function) -> tuple[float, float, dict[str, float]]:
    """Run one campaign; return its total wall time, its evaluation loop's wall time (s) and driver s per candidate by phase."""
    campaign = Campaign.prepare(write_config(folder, evaluations, workers, strategy))
    campaign.train_function = function
    started = time.perf_counter()
    result = campaign.run()
    wall = time.perf_counter() - started
    if len(result.records) != evaluations:
        raise RuntimeError(f"expected {evaluations} records, got {len(result.records)}")
    return wall, campaign.loop_seconds, {phase: seconds / evaluations for phase, seconds in campaign.timings.items()}


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--evaluations", type=int, default=2000, help="trivial evaluations in part 1 (default 2000)")
    parser.add_argument("--spin-evaluations", type=int, default=16, help="one-second evaluations per run in part 2 (default 16)")
    parser.add_argument("--strategy", default="nsga2", help="strategy of part 1 (default nsga2)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per worker count in part 2 (default 3)")
    args = parser.parse_args()

    import os

    print(f"machine: {os.cpu_count()} cores, {cpu_model()}; python {platform.python_version()}")
    ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR")
    try:
        with tempfile.TemporaryDirectory() as temporary:
            wall, loop, per_candidate = run(Path(temporary), args.evaluations, 2, args.strategy, trivial_training)
        driver = sum(per_candidate.values())
        print(f"\npart 1: {args.evaluations} trivial evaluations, strategy {args.strategy}, 2 workers, wall {wall:.1f} s")
        print("| phase | ms per candidate (mean) |")
        print("|---|---:|")
        for phase, seconds in per_candidate.items():
            print(f"| {phase} | {seconds * 1e3:.2f} |")
        print(f"| driver total | {driver * 1e3:.2f} |")
        print(f"| loop wall / candidate | {loop / args.evaluations * 1e3:.2f} |")

        # Both Ray workers are warm after part 1, so no run pays for starting a worker process.
        loops: dict[int, list[float]] = {1: [], 2: []}
        for _ in range(args.repeats):
            for workers in (1, 2):
                with tempfile.TemporaryDirectory() as temporary:
                    _, loop, _ = run(Path(temporary), args.spin_evaluations, workers, "random", spinning_training)
                loops[workers].append(loop)
        medians = {workers: statistics.median(values) for workers, values in loops.items()}
        print(f"\npart 2: {args.spin_evaluations} evaluations of about 1 s each, {args.repeats} runs per worker count")
        print("| workers | loop wall s (median) | runs |")
        print("|---:|---:|---|")
        for workers, values in loops.items():
            print(f"| {workers} | {medians[workers]:.2f} | {', '.join(f'{v:.2f}' for v in values)} |")
        print(f"speedup of 2 workers over 1 (ratio of medians): {medians[1] / medians[2]:.2f}")
    finally:
        ray.shutdown()


if __name__ == "__main__":
    main()
