"""What a campaign leaves in MLflow: parent params, step metrics, artifacts; child params, metrics, tags; models."""

from __future__ import annotations

from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient
from user_campaigns import campaign_dir, tiny_campaigns

from shinka.campaign.results import front_table
from shinka.campaign.tracking import (
    Tracker,
    absolute_tracking_uri,
    metric_key,
    pareto_tags,
    read_tracking_info,
)

pytestmark = pytest.mark.slow

STEP_METRICS = ("evaluated", "feasible", "failed", "front_size", "hypervolume")
COST_METRICS = ("params_total", "weight_bytes", "flops_per_token_decode", "kv_cache_bytes_per_token")
CHILD_TAGS = ("island", "parents", "operator", "status", "pareto_rank", "on_front")


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    campaigns = tiny_campaigns(tmp_path_factory)
    result = campaigns.nsga2
    client = MlflowClient(campaigns.tracking_uri)
    parent = client.get_run(result.parent_run_id)
    children = client.search_runs(
        [parent.info.experiment_id], f"tags.mlflow.parentRunId = '{result.parent_run_id}'", max_results=1000
    )
    return campaigns, result, client, parent, children


def test_parent_params_flattened(store):
    _, _, _, parent, _ = store
    params = parent.data.params
    assert params["strategy.name"] == "nsga2"
    assert params["budget.evaluations"] == "6"
    assert params["proxy.train_tokens"] == "8192"


@pytest.mark.parametrize("name", STEP_METRICS)
def test_parent_metric_every_step(store, name):
    _, result, client, _, _ = store
    history = client.get_metric_history(result.parent_run_id, name)
    assert sorted(m.step for m in history) == list(range(1, len(result.records) + 1))


def test_parent_evaluated_counts_up(store):
    _, result, client, _, _ = store
    history = sorted(client.get_metric_history(result.parent_run_id, "evaluated"), key=lambda m: m.step)
    assert [m.value for m in history] == [float(step) for step in range(1, len(result.records) + 1)]


def test_parent_front_size_final(store):
    _, result, client, _, _ = store
    history = sorted(client.get_metric_history(result.parent_run_id, "front_size"), key=lambda m: m.step)
    assert history[-1].value == float(result.front["on_front"].sum())


def test_parent_artifacts_present(store):
    _, result, client, _, _ = store
    root = {item.path for item in client.list_artifacts(result.parent_run_id)}
    for name in ("config.yaml", "search_space.yaml", "front.csv", "front.png", "front.html"):
        assert name in root, name


def test_parent_pair_plots(store):
    _, result, client, _, _ = store
    plots = {item.path for item in client.list_artifacts(result.parent_run_id, "plots")}
    objectives = result.objectives
    expected = len(objectives) * (len(objectives) - 1) // 2
    assert len(plots) == expected
    assert all(path.endswith(".png") for path in plots)


def test_parent_html_is_plotly(store, tmp_path):
    _, result, client, _, _ = store
    local = client.download_artifacts(result.parent_run_id, "front.html", str(tmp_path))
    text = Path(local).read_text(encoding="utf-8")
    assert "plotly" in text.lower()
    assert result.records[0]["candidate_id"] in text


def test_children_one_per_evaluation(store):
    _, result, _, _, children = store
    assert sorted(r.data.tags["candidate_id"] for r in children) == sorted(r["candidate_id"] for r in result.records)


def test_child_genes_as_params(store):
    _, result, _, _, children = store
    record = result.records[0]
    run = next(r for r in children if r.data.tags["candidate_id"] == record["candidate_id"])
    for gene, value in record["genome"].items():
        assert run.data.params[f"gene.{gene}"] == str(value)


def test_child_objectives_and_counts(store):
    _, result, _, _, children = store
    for run in children:
        if run.data.tags["status"] != "ok":
            continue
        for name in list(result.objectives) + list(COST_METRICS):
            assert metric_key(name) in run.data.metrics, name


@pytest.mark.parametrize("tag", CHILD_TAGS)
def test_child_tag_present(store, tag):
    _, _, _, _, children = store
    ok_runs = [r for r in children if r.data.tags.get("status") == "ok"]
    assert ok_runs
    for run in ok_runs:
        assert tag in run.data.tags, run.data.tags["candidate_id"]


def test_child_front_tags_match_journal(store):
    _, result, _, _, children = store
    table = front_table(result.records, result.objectives)
    expected = set(table[table["on_front"]]["candidate_id"])
    tagged = {r.data.tags["candidate_id"] for r in children if r.data.tags.get("on_front") == "true"}
    assert tagged == expected


def test_child_rank_tags_match_journal(store):
    _, result, _, _, children = store
    table = front_table(result.records, result.objectives)
    expected = {row.candidate_id: str(row.pareto_rank) for row in table.itertuples()}
    tagged = {r.data.tags["candidate_id"]: r.data.tags.get("pareto_rank") for r in children if r.data.tags["status"] == "ok"}
    assert tagged == expected


def test_front_models_logged(store):
    _, result, client, parent, children = store
    front = set(result.front[result.front["on_front"]]["candidate_id"])
    run_ids = {r.info.run_id: r.data.tags["candidate_id"] for r in children}
    models = client.search_logged_models([parent.info.experiment_id], max_results=1000)
    with_model = {run_ids[m.source_run_id] for m in models if m.source_run_id in run_ids}
    assert with_model == front


def test_progress_called_per_evaluation(store):
    campaigns, result, _, _, _ = store
    assert [call[0] for call in campaigns.progress_calls] == list(range(1, len(result.records) + 1))


def test_progress_gets_step_metrics(store):
    campaigns, _, _, _, _ = store
    done, budget, metrics = campaigns.progress_calls[-1]
    assert metrics["evaluated"] == done
    assert budget == 6


def test_tracking_info_from_folder(store):
    campaigns, result, _, _, _ = store
    info = read_tracking_info(campaign_dir(result))
    assert info.tracking_uri == absolute_tracking_uri(campaigns.tracking_uri)
    assert info.parent_run_id == result.parent_run_id


def test_tag_update_sends_changes_only(tmp_path):
    tracker = Tracker(f"sqlite:///{tmp_path / 'mlflow.db'}", "tags")
    tracker.start_parent("tags", {}, {})
    for candidate in ("a", "b"):
        tracker.log_candidate(candidate, {}, {}, {"status": "ok"}, step=1)
    first = tracker.update_candidate_tags(pareto_tags({"a": 0, "b": 1}))
    repeated = tracker.update_candidate_tags(pareto_tags({"a": 0, "b": 1}))
    moved = tracker.update_candidate_tags(pareto_tags({"a": 0, "b": 0}))
    assert first == 2
    assert repeated == 0
    assert moved == 1
    run = tracker.client.get_run(tracker.child_runs["b"])
    assert run.data.tags["on_front"] == "true"


def test_relative_sqlite_uri_made_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert absolute_tracking_uri("sqlite:///store.db") == f"sqlite:///{tmp_path / 'store.db'}"


def test_absolute_and_remote_uris_kept():
    assert absolute_tracking_uri("sqlite:////data/store.db") == "sqlite:////data/store.db"
    assert absolute_tracking_uri("http://127.0.0.1:5000") == "http://127.0.0.1:5000"
