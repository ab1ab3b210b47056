"""Search efficiency: share of the true front's hypervolume each strategy finds within a budget.

The space (search_spaces/synthetic_transformer.yaml) is small enough to score
every genome with the cost model, so the true Pareto front is known. Three
zero-cost objectives stand in for a proxy training run:

- maximize params_non_embedding (a capacity proxy for quality),
- minimize latency_ms_per_token_decode@raspberry-pi-5 (roofline estimate),
- minimize memory_mb@jetson-orin-nano (weights + KV cache + activations).

Each strategy runs sequential ask/tell (no Ray: this measures search, not
infrastructure) for the largest budget, once per seed. After 100, 200 and 400
evaluations, the hypervolume of everything evaluated so far is divided by the
true front's hypervolume, both normalized by the true front's ideal and nadir
with the reference point at 1.1 (shinka.search.hypervolume). Repeats of an
evaluated genome never count as evaluations: every strategy here proposes each
genome at most once.

Run: .venv/bin/python benchmarks/search_efficiency.py [--seeds 5] [--first-seed 0] [--budgets 100,200,400] [--jobs 1]

`--jobs N` runs N (strategy, seed) searches at a time in worker processes;
the results do not depend on it.
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from shinka.campaign.config import StrategyConfig  # noqa: E402
from shinka.hardware.profile import load_named_profile  # noqa: E402
from shinka.hardware.roofline import estimate  # noqa: E402
from shinka.model.arch import arch_from_values  # noqa: E402
from shinka.cost.counts import parameter_counts  # noqa: E402
from shinka.search.base import make_strategy  # noqa: E402
from shinka.search.hypervolume import normalized_hypervolume  # noqa: E402
from shinka.search.objectives import ObjectiveSet  # noqa: E402
from shinka.space.search_space import SearchSpace, load_search_space  # noqa: E402

SPACE_PATH = ROOT / "search_spaces" / "synthetic_transformer.yaml"
OBJECTIVES = ObjectiveSet.from_lists(
    ["params_non_embedding", "latency_ms_per_token_decode@raspberry-pi-5", "memory_mb@jetson-orin-nano"],
    maximize=["params_non_embedding"],
)
# Strategy label -> campaign `strategy` section, each at its defaults.
STRATEGIES: dict[str, dict] = {
    "shinka": {"name": "shinka"},
    "nsga2": {"name": "nsga2"},
    "optuna-nsga2": {"name": "optuna", "optuna": {"sampler": "NSGAIISampler"}},
    "optuna-tpe": {"name": "optuna", "optuna": {"sampler": "TPESampler"}},
    "random": {"name": "random"},
}


def objective_table(space: SearchSpace) -> dict[str, np.ndarray]:
    """Score every valid genome once; return genome id -> minimization values (the per-genome cache)."""
    latency_profile = load_named_profile("raspberry-pi-5")
    memory_profile = load_named_profile("jetson-orin-nano")
    table = {}
    for genome in space.enumerate_valid():
        arch = arch_from_values(space.values_of(genome))
        metrics = {
            "params_non_embedding": parameter_counts(arch)["params_non_embedding"],
            "latency_ms_per_token_decode@raspberry-pi-5": estimate(arch, latency_profile)["latency_ms_per_token_decode"],
            "memory_mb@jetson-orin-nano": estimate(arch, memory_profile)["memory_mb"],
        }
        table[genome.id] = OBJECTIVES.minimization(metrics)
    return table


def load_or_score_table(space: SearchSpace, cache: Path | None) -> dict[str, np.ndarray]:
    """Return objective_table(space), read from `cache` (a .npz file) when it exists, else scored and written there."""
    if cache is not None and cache.exists():
        with np.load(cache) as stored:
            return dict(zip(stored["ids"].tolist(), stored["values"]))
    table = objective_table(space)
    if cache is not None:
        ids = list(table)
        np.savez(cache, ids=np.array(ids), values=np.stack([table[i] for i in ids]))
    return table


def run_search(label: str, space: SearchSpace, table: dict[str, np.ndarray], seed: int, budget: int) -> np.ndarray:
    """Run one strategy for `budget` evaluations with sequential ask/tell; return the values in evaluation order."""
    settings = StrategyConfig.model_validate(STRATEGIES[label])
    strategy = make_strategy(settings, space, len(OBJECTIVES.names), seed)
    evaluated: list[np.ndarray] = []
    seen: set[str] = set()
    while len(evaluated) < budget:
        proposal = strategy.ask()
        if proposal.genome.id in seen:
            raise RuntimeError(f"{label} proposed {proposal.genome.id} twice")
        seen.add(proposal.genome.id)
        values = table[proposal.genome.id]
        strategy.tell(proposal.genome, values)
        evaluated.append(values)
    return np.stack(evaluated)


# The space and objective table, set once before worker processes fork.
_SHARED: dict[str, object] = {}


def _search_job(job: tuple[str, int, int]) -> tuple[str, int, np.ndarray, float]:
    """Run one (label, seed, budget) search on the shared table; return its values and seconds."""
    label, seed, budget = job
    begun = time.perf_counter()
    found = run_search(label, _SHARED["space"], _SHARED["table"], seed, budget)
    return label, seed, found, time.perf_counter() - begun


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=5, help="seeds per strategy (first-seed .. first-seed + seeds - 1)")
    parser.add_argument("--first-seed", type=int, default=0, help="first seed; the reported table uses 0, tuning used 5 and up")
    parser.add_argument("--budgets", default="100,200,400", help="comma-separated evaluation budgets")
    parser.add_argument("--strategies", default=",".join(STRATEGIES), help="comma-separated strategy labels")
    parser.add_argument("--jobs", type=int, default=1, help="searches run at a time in worker processes")
    parser.add_argument("--table-cache", type=Path, default=None,
                        help="a .npz file for the scored space: read when it exists, else written after scoring")
    args = parser.parse_args(argv)
    budgets = sorted(int(b) for b in args.budgets.split(","))
    labels = args.strategies.split(",")

    started = time.perf_counter()
    space = load_search_space(SPACE_PATH)
    table = load_or_score_table(space, args.table_cache)
    ids = list(table)
    values = np.stack([table[i] for i in ids])
    import moocore

    front = values[moocore.is_nondominated(values)]
    ideal, nadir = front.min(axis=0), front.max(axis=0)
    true_hv = normalized_hypervolume(front, ideal, nadir)
    print(f"space: {len(ids)} valid genomes, true front {len(front)} points, "
          f"scored in {time.perf_counter() - started:.1f} s")

    ratios: dict[str, dict[int, list[float]]] = {label: {b: [] for b in budgets} for label in labels}
    seconds: dict[str, float] = {label: 0.0 for label in labels}
    _SHARED.update(space=space, table=table)
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    jobs = [(label, seed, budgets[-1]) for label in labels for seed in seeds]
    if args.jobs > 1:
        with multiprocessing.get_context("fork").Pool(args.jobs) as pool:
            results = pool.map(_search_job, jobs, chunksize=1)
    else:
        results = [_search_job(job) for job in jobs]
    for label, _seed, found, spent in sorted(results, key=lambda result: (result[0], result[1])):
        seconds[label] += spent
        for budget in budgets:
            ratios[label][budget].append(normalized_hypervolume(found[:budget], ideal, nadir) / true_hv)

    print(f"hypervolume found / true front's hypervolume, median [min-max] over seeds {seeds[0]}-{seeds[-1]}; "
          "seconds: search time summed over seeds")
    header = f"{'strategy':<14}" + "".join(f"{'HV@' + str(b) + ' median [min-max]':>30}" for b in budgets) + f"{'seconds':>10}"
    print(header)
    for label in labels:
        cells = []
        for budget in budgets:
            found = ratios[label][budget]
            cells.append(f"{statistics.median(found):.4f} [{min(found):.4f}-{max(found):.4f}]")
        print(f"{label:<14}" + "".join(f"{cell:>30}" for cell in cells) + f"{seconds[label]:>10.1f}")
    print(f"total {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
