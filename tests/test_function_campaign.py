"""Campaigns on a generic search space scored by a `module:function` objective, with every strategy."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import ROOT

from shinka.campaign.results import front_table
from shinka.cli import main
from shinka.search import pareto

SPACE = ROOT / "search_spaces" / "synthetic_generic.yaml"

# An objective module next to the campaign file: it fails on purpose for some genomes.
FLAKY_OBJECTIVE = '''
import math

def evaluate(values):
    if values["mode"] == "c":
        raise ValueError("mode c is not supported")
    if values["level"] == 0:
        return {"f1": math.nan, "f2": 1.0}
    if values["level"] == 1:
        return {"f1": 1.0}
    return {"f1": values["angle"], "f2": 1.0 - values["angle"] ** 2}
'''


def write_function_campaign(folder: Path, **overrides) -> Path:
    config = {
        "name": "synthetic",
        "seed": 0,
        "search_space": str(SPACE),
        "objective_function": "shinka.examples.synthetic:evaluate",
        "objectives": ["f2", "max:accuracy"],
        "strategy": {"name": "shinka"},
        "budget": {"evaluations": 16},
        "ray": {"workers": 2},
        "tracking": {"uri": f"sqlite:///{folder / 'mlflow.db'}"},
        "output_dir": str(folder / "runs"),
    }
    config.update(overrides)
    path = folder / "campaign.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def journal_of(folder: Path) -> list[dict]:
    (campaign_dir,) = (folder / "runs").iterdir()
    lines = (campaign_dir / "journal.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


@pytest.mark.parametrize("strategy", ["shinka", "nsga2", "optuna", "random"])
def test_each_strategy_from_cli(strategy, tmp_path, ray_local, capsys):
    campaign = write_function_campaign(tmp_path, strategy={"name": strategy})
    assert main(["run", "--no-progress", str(campaign)]) == 0
    records = journal_of(tmp_path)
    assert len(records) == 16
    assert len({r["candidate_id"] for r in records}) == 16
    assert all(r["status"] == "ok" for r in records)
    assert "Pareto front" in capsys.readouterr().out


def test_maximized_objective_on_front(tmp_path, ray_local):
    campaign = write_function_campaign(tmp_path, budget={"evaluations": 24})
    assert main(["run", "--no-progress", str(campaign)]) == 0
    records = journal_of(tmp_path)
    table = front_table(records, ["f2", "accuracy"], maximize=["accuracy"])
    front = table[table["on_front"]]
    best_accuracy = max(r["metrics"]["accuracy"] for r in records)
    # Maximized: the most accurate candidate is on the front, and no front member is dominated.
    assert best_accuracy in set(front["accuracy"])
    values = np.column_stack([table["f2"], -table["accuracy"]])
    mask = pareto.non_dominated_mask(values)
    assert set(table[mask]["candidate_id"]) == set(front["candidate_id"])


def test_failures_recorded_and_campaign_continues(tmp_path, ray_local):
    (tmp_path / "flaky_objective.py").write_text(FLAKY_OBJECTIVE)
    campaign = write_function_campaign(
        tmp_path, objective_function="flaky_objective:evaluate", objectives=["f1", "f2"],
        strategy={"name": "random"}, budget={"evaluations": 40},
    )
    assert main(["run", "--no-progress", str(campaign)]) == 0
    records = journal_of(tmp_path)
    assert len(records) == 40
    by_reason = {r["reason"] or "" for r in records if r["status"] == "failed"}
    assert any("ValueError: mode c is not supported" in reason for reason in by_reason)
    assert any("objective 'f1' is nan" in reason for reason in by_reason)
    assert any("objective 'f2' is missing" in reason for reason in by_reason)
    for record in records:
        values = record["genome"]
        expected_ok = values["mode"] != "c" and values["level"] not in (0, 1)
        assert (record["status"] == "ok") == expected_ok, record


def test_one_worker_same_sequence(tmp_path, ray_local):
    sequences = []
    for attempt in ("first", "second"):
        folder = tmp_path / attempt
        folder.mkdir()
        campaign = write_function_campaign(folder, ray={"workers": 1}, budget={"evaluations": 20})
        assert main(["run", "--no-progress", str(campaign)]) == 0
        sequences.append([r["candidate_id"] for r in journal_of(folder)])
    assert sequences[0] == sequences[1]


def test_export_rejects_function_campaign(tmp_path, ray_local, capsys):
    campaign = write_function_campaign(tmp_path, budget={"evaluations": 4}, strategy={"name": "random"})
    assert main(["run", "--no-progress", str(campaign)]) == 0
    (campaign_dir,) = (tmp_path / "runs").iterdir()
    capsys.readouterr()
    assert main(["export", str(campaign_dir), "--front", "--out", str(tmp_path / "out")]) == 2
    error = capsys.readouterr().err
    assert "objective_function" in error
    assert not (tmp_path / "out").exists()
