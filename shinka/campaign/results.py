"""Campaign results: reading a campaign folder, the Pareto front, per-profile picks and comparisons.

Everything here recomputes from the journal, so it works on a finished, a
running or a killed campaign alike. Objectives are minimized except those
named in `maximize`, which are negated before any Pareto or hypervolume step.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from shinka.campaign.plots import plot_front
from shinka.errors import UserError
from shinka.search import pareto
from shinka.search.hypervolume import (
    REFERENCE,
    bounds_of,
    hypervolume_so_far,
    normalize,
    normalized_hypervolume,
)


@dataclass
class CampaignFolder:
    """A campaign folder as `shinka run` writes it: settings from config.yaml and the journal records."""

    path: Path
    name: str
    objectives: list[str]
    budget: int
    profiles: list[str]
    strategy: str
    records: list[dict[str, Any]]
    config: dict[str, Any]  # config.yaml as written by the campaign, defaults filled in
    maximize: list[str] = field(default_factory=list)  # objectives to maximize


def load_campaign_folder(campaign_dir: str | Path) -> CampaignFolder:
    """Read config.yaml and journal.jsonl of a campaign folder; raise UserError when it is not one."""
    from shinka.campaign.journal import Journal
    from shinka.yamlio import read_yaml_mapping

    path = Path(campaign_dir)
    if not path.is_dir():
        raise UserError("campaign folder not found", file=path, allowed="a folder written by `shinka run`")
    config_path = path / "config.yaml"
    if not config_path.is_file():
        raise UserError("not a campaign folder: config.yaml is missing", file=path, allowed="a folder written by `shinka run`")
    config = read_yaml_mapping(config_path, what="campaign config")
    objectives = config.get("objectives")
    if not isinstance(objectives, list) or len(objectives) < 2:
        raise UserError("invalid objectives", file=config_path, field="objectives", value=objectives,
                        allowed="a list of at least two metric names")
    return CampaignFolder(
        path=path,
        name=str(config.get("name", path.name)),
        objectives=[str(o) for o in objectives],
        budget=int((config.get("budget") or {}).get("evaluations", 0)),
        profiles=[str(p) for p in (config.get("hardware") or {}).get("profiles", [])],
        strategy=str((config.get("strategy") or {}).get("name", "")),
        records=list(Journal(path / "journal.jsonl").records()),
        config=dict(config),
        maximize=[str(name) for name in config.get("maximize") or []],
    )


def objective_matrix(
    records: Iterable[dict[str, Any]], objectives: list[str], maximize: Collection[str] = ()
) -> tuple[list[dict[str, Any]], np.ndarray]:
    """Return the successful records and their (n, m) objective values to minimize (maximized ones negated)."""
    ok = [r for r in records if r.get("status") == "ok"]
    values = np.array([[_number(r["metrics"].get(o)) for o in objectives] for r in ok], dtype=float)
    signs = np.array([-1.0 if o in maximize else 1.0 for o in objectives])
    return ok, values.reshape(len(ok), len(objectives)) * signs


def _number(value: Any) -> float:
    return math.nan if value is None else float(value)


def is_feasible(record: dict[str, Any], objectives: list[str]) -> bool:
    """Return True for a successful record with finite values on every objective and no `feasible: false` mark."""
    if record.get("status") != "ok" or record.get("feasible") is False:
        return False
    return all(math.isfinite(_number(record["metrics"].get(o))) for o in objectives)


def front_ranks(records: list[dict[str, Any]], objectives: list[str], maximize: Collection[str] = ()) -> dict[str, int]:
    """Return the Pareto rank (0 is the front) of every successful candidate, by candidate id."""
    ok, values = objective_matrix(records, objectives, maximize)
    if not ok:
        return {}
    ranks = pareto.pareto_ranks(values)
    return {record["candidate_id"]: int(rank) for record, rank in zip(ok, ranks)}


def step_metrics(
    records: list[dict[str, Any]], objectives: list[str], ranks: dict[str, int], maximize: Collection[str] = ()
) -> dict[str, float]:
    """Return the campaign metrics logged after each evaluation.

    evaluated, feasible, failed, front_size, and hypervolume: shinka's
    normalized hypervolume (shinka.search.hypervolume) of the successful
    candidates so far, with bounds from those candidates. A new extreme value
    moves the bounds, so the series can drop.
    """
    feasible = [r for r in records if is_feasible(r, objectives)]
    feasible_ids = {r["candidate_id"] for r in feasible}
    _, values = objective_matrix(records, objectives, maximize)
    return {
        "evaluated": len(records),
        "feasible": len(feasible),
        "failed": sum(1 for r in records if r.get("status") != "ok"),
        "front_size": sum(1 for cid, rank in ranks.items() if rank == 0 and cid in feasible_ids),
        "hypervolume": hypervolume_so_far(values) if len(values) else 0.0,
    }


def front_table(records: Iterable[dict[str, Any]], objectives: list[str], maximize: Collection[str] = ()) -> pd.DataFrame:
    """Return every successful candidate with its objectives, Pareto rank and front membership."""
    ok, values = objective_matrix(records, objectives, maximize)
    ranks = pareto.pareto_ranks(values) if len(ok) else np.zeros(0, dtype=int)
    finite = np.all(np.isfinite(values), axis=1) if len(ok) else np.zeros(0, dtype=bool)
    rows = []
    for record, rank, complete in zip(ok, ranks, finite):
        row = {"candidate_id": record["candidate_id"], "pareto_rank": int(rank), "on_front": bool(rank == 0 and complete)}
        row.update({o: record["metrics"].get(o) for o in objectives})
        row.update({f"gene.{k}": v for k, v in record["genome"].items()})
        rows.append(row)
    table = pd.DataFrame(rows)
    if not table.empty:
        ascending = [True, objectives[0] not in maximize]
        table = table.sort_values(["pareto_rank", objectives[0]], ascending=ascending).reset_index(drop=True)
    return table


def best_per_objective(
    records: list[dict[str, Any]], objectives: list[str], maximize: Collection[str] = ()
) -> dict[str, tuple[str, float]]:
    """Return, per objective, the candidate id with the best finite value (lowest, or highest when maximized) and that value."""
    best: dict[str, tuple[str, float]] = {}
    for objective in objectives:
        sign = -1.0 if objective in maximize else 1.0
        scored = [
            (sign * _number(r["metrics"].get(objective)), r["candidate_id"])
            for r in records if r.get("status") == "ok"
        ]
        scored = [(value, cid) for value, cid in scored if math.isfinite(value)]
        if scored:
            value, cid = min(scored)
            best[objective] = (cid, sign * value)
    return best


def profile_objectives(objectives: list[str], profile: str) -> list[str]:
    """Return the metrics that judge a candidate for one profile.

    These are the campaign's model objectives (no '@') plus its objectives on
    `profile`. A campaign without an objective on `profile` is judged there on
    decode latency and memory, which every record has for every campaign profile.
    """
    model = [o for o in objectives if "@" not in o]
    on_profile = [o for o in objectives if o.endswith(f"@{profile}")]
    if not on_profile:
        on_profile = [f"latency_ms_per_token_decode@{profile}", f"memory_mb@{profile}"]
    return model + on_profile


def best_for_profile(records: list[dict[str, Any]], objectives: list[str], profile: str, maximize: Collection[str] = ()) -> str:
    """Return the candidate id that is the compromise (knee) point of the front for `profile`.

    Candidates that do not fit the profile's memory are left out. Among the
    rest, the Pareto front over `profile_objectives` is taken, each metric is
    min-max normalized over that front, and the member nearest (Euclidean) to
    the ideal point (all zeros) wins. Ties go to the smaller candidate id.
    """
    known = sorted({key.partition("@")[2] for r in records for key in r.get("metrics", {}) if "@" in key})
    if profile not in known:
        raise UserError("unknown profile for this campaign", field="--best-for", value=profile,
                        allowed=", ".join(known) or "(no successful candidate yet)")
    metrics = profile_objectives(objectives, profile)
    fitting = [
        r for r in records
        if r.get("status") == "ok" and r["metrics"].get(f"fits_memory@{profile}", 1.0) != 0.0
    ]
    ok, values = objective_matrix(fitting, metrics, maximize)
    complete = np.all(np.isfinite(values), axis=1)
    ok, values = [r for r, keep in zip(ok, complete) if keep], values[complete]
    if not ok:
        raise UserError("no successful candidate fits this profile", field="--best-for", value=profile)
    on_front = pareto.pareto_ranks(values) == 0
    front, front_values = [r for r, keep in zip(ok, on_front) if keep], values[on_front]
    low, high = front_values.min(axis=0), front_values.max(axis=0)
    span = np.where(high > low, high - low, 1.0)
    distances = np.linalg.norm((front_values - low) / span, axis=1)
    order = sorted(range(len(front)), key=lambda i: (distances[i], front[i]["candidate_id"]))
    return front[order[0]]["candidate_id"]


def normalize_common(values_by_campaign: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Normalize every campaign's (n, m) values with one set of bounds taken over all campaigns together.

    This is shinka's hypervolume normalization (shinka.search.hypervolume):
    each objective maps the best finite value seen in any campaign to 0 and the
    worst to 1, so the hypervolumes that follow are comparable.
    """
    columns = next((v.shape[1] for v in values_by_campaign.values()), 0)
    stacked = np.vstack([v for v in values_by_campaign.values()] or [np.zeros((0, columns))])
    ideal, nadir = bounds_of(stacked)
    return {name: normalize(values, ideal, nadir) for name, values in values_by_campaign.items()}


def compare_campaigns(folders: list[CampaignFolder]) -> tuple[pd.DataFrame, dict[str, pd.DataFrame], list[str]]:
    """Compare campaigns on their shared objectives with one normalization.

    Returns a summary table (one row per campaign: counts, front size,
    normalized hypervolume, members on the combined front), each campaign's
    normalized front and the shared objectives. The hypervolume reference point
    is REFERENCE (1.1) on every normalized objective.
    """
    # An objective is shared when every campaign has it with the same goal.
    shared = [
        o for o in folders[0].objectives
        if all(o in f.objectives and (o in f.maximize) == (o in folders[0].maximize) for f in folders[1:])
    ]
    if len(shared) < 2:
        raise UserError("campaigns share fewer than two objectives", value=[f.objectives for f in folders],
                        allowed="campaigns with at least two objectives in common")
    labels = _unique_labels(folders)
    raw = {label: objective_matrix(f.records, shared, folders[0].maximize) for label, f in zip(labels, folders)}
    normalized = normalize_common({label: values for label, (_, values) in raw.items()})
    zeros, ones = np.zeros(len(shared)), np.ones(len(shared))  # normalized values are already scaled

    combined = np.vstack([v for v in normalized.values() if len(v)]) if any(len(v) for v in normalized.values()) else None
    combined_mask = pareto.non_dominated_mask(combined) if combined is not None else np.zeros(0, dtype=bool)
    offsets = np.cumsum([0] + [len(v) for v in normalized.values()])

    rows, fronts = [], {}
    for index, (label, folder) in enumerate(zip(labels, folders)):
        ok, _ = raw[label]
        values = normalized[label]
        mask = pareto.non_dominated_mask(values) if len(values) else np.zeros(0, dtype=bool)
        front = pd.DataFrame(values[mask], columns=shared)
        front.insert(0, "candidate_id", [r["candidate_id"] for r, keep in zip(ok, mask) if keep])
        fronts[label] = front
        rows.append({
            "campaign": label,
            "strategy": folder.strategy,
            "evaluated": len(folder.records),
            "failed": sum(1 for r in folder.records if r.get("status") != "ok"),
            "front_size": int(mask.sum()),
            "hypervolume": normalized_hypervolume(values[mask], zeros, ones, REFERENCE) if mask.any() else 0.0,
            "on_combined_front": int(combined_mask[offsets[index]:offsets[index + 1]].sum()),
        })
    return pd.DataFrame(rows), fronts, shared


def _unique_labels(folders: list[CampaignFolder]) -> list[str]:
    labels = [f.path.name for f in folders]
    counts: dict[str, int] = {}
    unique = []
    for label in labels:
        counts[label] = counts.get(label, 0) + 1
        unique.append(label if labels.count(label) == 1 else f"{label}#{counts[label]}")
    return unique



def write_front_outputs(table: pd.DataFrame, objectives: list[str], folder: str | Path, title: str) -> dict[str, list[Path]]:
    """Write the front table and pictures into a campaign folder; return the files by MLflow artifact folder.

    front.csv (every successful candidate, front first), front.png (the first
    objective against each other one), front.html (interactive, plotly) and
    plots/<y>_vs_<x>.png (one per pair of objectives). The artifact folder ""
    is the run's root.
    """
    from shinka.campaign.plots import plot_front_html, plot_front_pairs
    from shinka.yamlio import write_text_atomic

    folder = Path(folder)
    write_text_atomic(folder / "front.csv", table.to_csv(index=False))
    root = [
        folder / "front.csv",
        plot_front(table, objectives, folder / "front.png", title),
        plot_front_html(table, objectives, folder / "front.html", title),
    ]
    pairs = plot_front_pairs(table, objectives, folder / "plots", title)
    return {"": root, "plots": pairs}
