"""Driver time spent on MLflow per evaluation, as the journal grows.

After each evaluation the campaign driver recomputes Pareto ranks over every
successful candidate, sends tags to the child runs whose rank or front
membership changed, and logs the step metrics to the parent run
(`shinka.campaign.tracking.log_step`). This script replays a synthetic
campaign of N candidates with 3 random objectives (seeded) into a fresh
SQLite store. At a few journal sizes it times one `log_step`, times the rank
computation alone and counts the child runs updated. Child runs are created
first (one per candidate), as the campaign does.

    .venv/bin/python benchmarks/tracking_overhead.py [--sizes 100 300 1000]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from shinka.campaign.results import front_ranks  # noqa: E402
from shinka.campaign.tracking import Tracker, log_step, pareto_tags  # noqa: E402

OBJECTIVES = ["val_bpb", "latency_ms_per_token_decode@local-cpu", "memory_mb@raspberry-pi-5"]


def synthetic_records(count: int, seed: int) -> list[dict]:
    rng = np.random.default_rng(seed)
    values = rng.random((count, len(OBJECTIVES)))
    return [
        {"candidate_id": f"{index:012x}", "status": "ok", "genome": {},
         "metrics": dict(zip(OBJECTIVES, map(float, row)))}
        for index, row in enumerate(values)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 300, 1000], help="journal sizes to time at")
    parser.add_argument("--repeats", type=int, default=5, help="timed log_step calls per size (default 5)")
    parser.add_argument("--seed", type=int, default=0, help="random seed of the objectives (default 0)")
    args = parser.parse_args()

    records = synthetic_records(max(args.sizes), args.seed)
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        tracker = Tracker(f"sqlite:///{folder}/mlflow.db", "tracking-overhead")
        tracker.start_parent("tracking-overhead", {}, {})
        done = 0
        for size in sorted(args.sizes):
            for record in records[done:size]:
                tracker.log_candidate(record["candidate_id"], {}, record["metrics"], {"status": "ok"}, step=size)
            done = size
            journal = records[:size]
            tracker.update_candidate_tags(pareto_tags(front_ranks(journal, OBJECTIVES)))  # catch up once

            rank_times, step_times = [], []
            for _ in range(args.repeats):
                started = time.perf_counter()
                front_ranks(journal, OBJECTIVES)
                rank_times.append(time.perf_counter() - started)
            updated = []
            for repeat in range(args.repeats):
                # One new evaluation that lands on the front, as a good candidate does.
                extra = dict(records[0], candidate_id=f"new{size:05d}{repeat:04d}",
                             metrics={o: -0.01 * (repeat + 1) if i == repeat % 3 else 0.5 for i, o in enumerate(OBJECTIVES)})
                tracker.log_candidate(extra["candidate_id"], {}, extra["metrics"], {"status": "ok"}, step=size)
                journal = journal + [extra]
                before = {cid: dict(tags) for cid, tags in tracker._child_tags.items()}
                started = time.perf_counter()
                log_step(tracker, journal, OBJECTIVES, step=len(journal))
                step_times.append(time.perf_counter() - started)
                updated.append(sum(1 for cid, tags in tracker._child_tags.items() if before.get(cid) != tags))
            rows.append((size, statistics.median(rank_times), statistics.median(step_times), statistics.median(updated)))

    print(f"{'candidates':>10} {'ranks (ms)':>11} {'log_step (ms)':>14} {'runs updated':>13}")
    for size, rank_s, step_s, updated in rows:
        print(f"{size:>10} {rank_s * 1e3:>11.1f} {step_s * 1e3:>14.1f} {updated:>13.0f}")


if __name__ == "__main__":
    main()
