"""Failed candidates are recorded with their reason and the campaign goes on."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import ray
from conftest import ROOT, write_campaign

from shinka.campaign.runner import Campaign

ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])


def crash_worker_once(arch_dict, train, validation, settings, threads, marker: str):
    """Kill the worker process on the first attempt (a system failure), train normally after."""
    import hashlib
    import os

    from shinka.campaign.evaluation import train_candidate

    path = Path(marker) / f"{hashlib.sha1(str(arch_dict).encode()).hexdigest()}.attempt"
    if not path.exists():
        path.write_text("1")
        os._exit(1)
    return train_candidate(arch_dict, train, validation, settings, threads)


def raise_and_count(arch_dict, train, validation, settings, threads, marker: str):
    """Raise a deterministic error and count the attempts in a file."""
    with open(Path(marker) / "attempts", "a") as stream:
        stream.write("x")
    raise ValueError("broken candidate")


def run_with(folder: Path, train_function=None, **overrides):
    campaign = Campaign.prepare(write_campaign(folder, **overrides))
    if train_function is not None:
        marker = str(folder)

        def bound(arch_dict, train, validation, settings, threads):
            return train_function(arch_dict, train, validation, settings, threads, marker=marker)

        campaign.train_function = bound
    return campaign.run()


def statuses(result) -> list[str]:
    return [r["status"] for r in result.records]


def kinds(result) -> list[str | None]:
    return [r["failure_kind"] for r in result.records]


SMALL = {"budget": {"evaluations": 2}, "strategy": {"population_size": 2}}


def test_diverged_training_fails(ray_local, tmp_path):
    result = run_with(tmp_path, proxy={"learning_rate": 1e12}, **SMALL)
    assert statuses(result) == ["failed", "failed"]
    assert kinds(result) == ["diverged", "diverged"]


def test_out_of_memory_fails(ray_local, tmp_path):
    space = tmp_path / "huge.yaml"
    space.write_text(
        "kind: transformer\ngenes:\n  d_model: [131072]\n  n_layer: [1, 2]\n"
        "fixed:\n  n_head: 1\n  ffn_mult: 4.0\n  context_length: 8\n"
    )
    result = run_with(tmp_path, search_space=str(space), **SMALL)
    assert kinds(result) == ["out of memory", "out of memory"]
    assert "allocate" in result.records[0]["reason"]


def test_time_limit_fails(ray_local, tmp_path):
    result = run_with(tmp_path, budget={"evaluations": 2, "evaluation_timeout_s": 0.05}, proxy={"train_tokens": 4_000_000}, strategy={"population_size": 2})
    assert kinds(result) == ["timed out", "timed out"]


def test_failure_reason_in_mlflow(ray_local, tmp_path):
    import mlflow

    result = run_with(tmp_path, proxy={"learning_rate": 1e12}, **SMALL)
    client = mlflow.tracking.MlflowClient(result.tracking_uri)
    parent = client.get_run(result.parent_run_id)
    children = client.search_runs([parent.info.experiment_id], f"tags.mlflow.parentRunId = '{result.parent_run_id}'")
    assert {run.data.tags["failure_kind"] for run in children} == {"diverged"}
    assert parent.data.tags["failures"] == "diverged=2"
    assert parent.data.metrics["failed"] == 2


def test_campaign_continues_after_failures(ray_local, tmp_path):
    result = run_with(tmp_path, proxy={"learning_rate": 1e12}, **SMALL)
    assert len(result.records) == 2
    assert (result.campaign_dir / "journal.jsonl").read_text().count("\n") == 2


def test_dead_worker_retried(ray_local, tmp_path):
    result = run_with(tmp_path, crash_worker_once, **SMALL)
    assert statuses(result) == ["ok", "ok"]
    assert len(list(tmp_path.glob("*.attempt"))) == 2


def test_dead_worker_without_retries_fails(ray_local, tmp_path):
    result = run_with(tmp_path, crash_worker_once, ray={"max_retries": 0}, **SMALL)
    assert kinds(result) == ["system", "system"]


def test_deterministic_failure_not_retried(ray_local, tmp_path):
    result = run_with(tmp_path, raise_and_count, budget={"evaluations": 1}, strategy={"population_size": 2})
    assert kinds(result) == ["error"]
    assert "broken candidate" in result.records[0]["reason"]
    assert (tmp_path / "attempts").read_text() == "x"


@pytest.mark.parametrize("uri", ["http://127.0.0.1:9/", "http://127.0.0.1:1"])
def test_unreachable_tracking_server(tmp_path, uri):
    from shinka.errors import UserError

    with pytest.raises(UserError, match="cannot reach the MLflow tracking server"):
        Campaign.prepare(write_campaign(tmp_path, tracking={"uri": uri}))
    assert not (tmp_path / "runs").exists()


def test_unreachable_ray_address(tmp_path):
    from shinka.errors import UserError

    with pytest.raises(UserError, match="cannot reach the Ray cluster"):
        Campaign.prepare(write_campaign(tmp_path, ray={"address": "127.0.0.1:9"}))
    assert not (tmp_path / "runs").exists()
    assert not (tmp_path / "mlflow.db").exists()


