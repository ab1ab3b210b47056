"""Campaign results: objective matrix, Pareto front, CSV table and plot."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable

import numpy as np
import pandas as pd

from shinka.search import pareto


def objective_matrix(records: Iterable[dict[str, Any]], objectives: list[str]) -> tuple[list[dict[str, Any]], np.ndarray]:
    """Return the successful records and their (n, m) objective values (all minimized)."""
    ok = [r for r in records if r.get("status") == "ok"]
    values = np.array([[float(r["metrics"].get(o, np.nan)) for o in objectives] for r in ok], dtype=float)
    return ok, values.reshape(len(ok), len(objectives))


def front_table(records: Iterable[dict[str, Any]], objectives: list[str]) -> pd.DataFrame:
    """Return every successful candidate with its objectives, Pareto rank and front membership."""
    ok, values = objective_matrix(records, objectives)
    ranks = pareto.pareto_ranks(values) if len(ok) else np.zeros(0, dtype=int)
    rows = []
    for record, rank in zip(ok, ranks):
        row = {"candidate_id": record["candidate_id"], "pareto_rank": int(rank), "on_front": bool(rank == 0)}
        row.update({o: record["metrics"].get(o) for o in objectives})
        row.update({f"gene.{k}": v for k, v in record["genome"].items()})
        rows.append(row)
    table = pd.DataFrame(rows)
    if not table.empty:
        table = table.sort_values(["pareto_rank", objectives[0]]).reset_index(drop=True)
    return table


def plot_front(table: pd.DataFrame, objectives: list[str], path: str | Path, title: str) -> Path:
    """Plot every candidate and the front for the first objective against each other one (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    others = objectives[1:]
    figure, axes = plt.subplots(1, len(others), figsize=(5 * len(others), 4), squeeze=False)
    front = table[table["on_front"]]
    for axis, other in zip(axes[0], others):
        axis.scatter(table[other], table[objectives[0]], s=18, color="0.6", label="evaluated")
        ordered = front.sort_values(other)
        axis.scatter(ordered[other], ordered[objectives[0]], s=30, color="tab:red", label="Pareto front")
        axis.set_xlabel(other)
        axis.set_ylabel(objectives[0])
        axis.grid(alpha=0.3)
    axes[0][0].legend()
    figure.suptitle(title)
    figure.tight_layout()
    path = Path(path)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path
