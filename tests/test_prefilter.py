"""The feasibility pre-filter: a genome that breaks a hard constraint is never trained."""

from __future__ import annotations

import json

from conftest import write_campaign

from mlflow.tracking import MlflowClient

from shinka.campaign.runner import Campaign

LIMIT = 100_000  # parameters; about half of the tiny space's genomes are larger


def test_infeasible_never_trained(tmp_path, ray_local):
    path = write_campaign(
        tmp_path,
        constraints=[f"params_total <= {LIMIT}", "memory_mb@jetson-orin-nano <= 4000"],
        strategy={"name": "random"},
        budget={"evaluations": 4},
        proxy={"train_tokens": 2048, "validation_tokens": 1024},
    )
    campaign = Campaign.prepare(path)
    result = campaign.run()

    trained = [json.loads(line) for line in (result.campaign_dir / "journal.jsonl").read_text().splitlines()]
    rejected = [json.loads(line) for line in (result.campaign_dir / "prefiltered.jsonl").read_text().splitlines()]
    assert len(trained) == 4
    assert rejected, "with half the space over the limit, random search proposes some infeasible genome"
    assert all(r["metrics"]["params_total"] <= LIMIT for r in trained)
    assert all(r["metrics"]["params_total"] > LIMIT for r in rejected)
    assert all(r["status"] == "infeasible" and "params_total" in r["reason"] for r in rejected)
    assert not {r["candidate_id"] for r in rejected} & {r["candidate_id"] for r in trained}
    # Only trained candidates leave weights behind.
    saved = {p.name for p in (result.campaign_dir / "candidates").iterdir()}
    assert saved == {r["candidate_id"] for r in trained}

    # The parent run counts them.
    client = MlflowClient(result.tracking_uri)
    history = client.get_metric_history(result.parent_run_id, "prefiltered")
    assert history[-1].value == len(rejected)

    # `shinka status` reports them too.
    from shinka.cli.status import campaign_status

    assert campaign_status(str(result.campaign_dir))["prefiltered"] == len(rejected)


def test_resume_without_checkpoint_trains_nothing_twice(tmp_path, ray_local):
    import yaml

    path = write_campaign(
        tmp_path, constraints=[f"params_total <= {LIMIT}"], strategy={"name": "random"},
        budget={"evaluations": 3}, proxy={"train_tokens": 2048, "validation_tokens": 1024},
    )
    first = Campaign.prepare(path).run()
    campaign_dir = first.campaign_dir
    rejected_before = (campaign_dir / "prefiltered.jsonl").read_text().splitlines()
    assert rejected_before, "random search over this space proposes an infeasible genome within a few asks"

    # A lost checkpoint: the strategy starts again from its seed and learns everything from the journals.
    (campaign_dir / "checkpoint.pkl").unlink()
    config = yaml.safe_load((campaign_dir / "config.yaml").read_text())
    config["budget"]["evaluations"] = 5
    (campaign_dir / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    Campaign.reopen(campaign_dir).run()

    trained = [json.loads(line)["candidate_id"] for line in (campaign_dir / "journal.jsonl").read_text().splitlines()]
    rejected = [json.loads(line)["candidate_id"] for line in (campaign_dir / "prefiltered.jsonl").read_text().splitlines()]
    assert len(trained) == 5
    assert len(set(trained)) == 5
    assert len(set(rejected)) == len(rejected)
    assert not set(rejected) & set(trained)
