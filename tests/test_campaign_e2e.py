"""A whole tiny campaign on real Ray, real MLflow (SQLite) and real proxy training."""

from __future__ import annotations

import json
import subprocess
import sys

import mlflow
import pytest
from conftest import write_campaign

from shinka.campaign.runner import run_campaign
from shinka.export import export_top, load_model
from shinka.proxy.corpus import load_corpus
from shinka.proxy.train import TrainSettings, validation_loss

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def campaign(ray_local, tmp_path_factory):
    folder = tmp_path_factory.mktemp("campaign")
    config_path = write_campaign(folder)
    result = run_campaign(config_path)
    return folder, config_path, result


def test_campaign_evaluates_budget(campaign):
    _, _, result = campaign
    assert len(result.records) == 6
    assert all(r["status"] == "ok" for r in result.records)


def test_campaign_candidates_distinct(campaign):
    _, _, result = campaign
    ids = [r["candidate_id"] for r in result.records]
    assert len(set(ids)) == len(ids)


def test_journal_has_every_record(campaign):
    _, _, result = campaign
    lines = (result.campaign_dir / "journal.jsonl").read_text().splitlines()
    assert [json.loads(line)["candidate_id"] for line in lines] == [r["candidate_id"] for r in result.records]


def test_campaign_folder_files(campaign):
    _, _, result = campaign
    for name in ("config.yaml", "search_space.yaml", "front.csv", "front.png"):
        assert (result.campaign_dir / name).is_file(), name


def test_front_non_dominated(campaign):
    _, _, result = campaign
    front = result.front[result.front["on_front"]]
    objectives = result.objectives
    assert len(front) >= 1
    for _, a in front.iterrows():
        for _, b in result.front.iterrows():
            dominated = all(b[o] <= a[o] for o in objectives) and any(b[o] < a[o] for o in objectives)
            assert not dominated, (a["candidate_id"], b["candidate_id"])


def test_measured_and_estimated_sources(campaign):
    _, _, result = campaign
    sources = result.records[0]["sources"]
    assert sources["latency_ms_per_token_decode@local-cpu"] == "measured"
    assert sources["latency_ms_per_token_decode@raspberry-pi-5"] == "estimated"


def test_mlflow_parent_and_children(campaign):
    _, _, result = campaign
    mlflow.set_tracking_uri(result.tracking_uri)
    runs = mlflow.search_runs(experiment_names=["tiny"], output_format="pandas")
    parent = runs[runs["run_id"] == result.parent_run_id]
    children = runs[runs["tags.mlflow.parentRunId"] == result.parent_run_id]
    assert len(parent) == 1
    assert len(children) == 6
    assert children["params.gene.d_model"].notna().all()
    assert children["metrics.val_bpb"].notna().all()
    assert children["metrics.local-cpu/latency_ms_per_token_decode"].notna().all()
    assert set(children["tags.status"]) == {"ok"}
    assert children["tags.on_front"].isin(["true", "false"]).all()


def test_mlflow_parent_artifacts(campaign):
    _, _, result = campaign
    client = mlflow.tracking.MlflowClient(result.tracking_uri)
    names = {item.path for item in client.list_artifacts(result.parent_run_id)}
    assert {"front.csv", "front.png", "config.yaml", "search_space.yaml"} <= names


def test_export_reproduces_val_loss(campaign, tmp_path):
    _, _, result = campaign
    exported = export_top(result.campaign_dir, tmp_path / "exports", top=2)
    assert len(exported) == 2
    corpus = load_corpus("stdlib", max_bytes=400_000)
    settings = TrainSettings(validation_tokens=2048)
    by_id = {r["candidate_id"]: r for r in result.records}
    for folder in exported:
        model, document = load_model(folder)
        record = by_id[folder.name.split("-", 1)[1]]
        loss = validation_loss(model, corpus.validation, settings)
        assert abs(loss - record["metrics"]["val_loss"]) < 1e-4


def test_cli_run_prints_front(tmp_path):
    config_path = write_campaign(tmp_path, budget={"evaluations": 3}, strategy={"population_size": 2})
    completed = subprocess.run(
        [sys.executable, "-m", "shinka", "run", str(config_path)],
        capture_output=True, text=True, cwd=tmp_path, timeout=300,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert "Pareto front" in completed.stdout
    assert "Evaluated 3 candidates" in completed.stdout
