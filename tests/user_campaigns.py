"""Two tiny real campaigns shared by the tests of what users see (MLflow, CLI, export, notebook, UI).

They run once per pytest process, however many test modules use them. The
NSGA-II campaign evaluates 6 candidates and the random-search one 4. Both log
to one MLflow SQLite store, in separate experiments, and run on one local Ray
instance started here and shut down after.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from conftest import write_campaign

_cache: dict[str, TinyCampaigns] = {}


@dataclass
class TinyCampaigns:
    tracking_uri: str
    nsga2: object  # CampaignResult
    random: object  # CampaignResult
    progress_calls: list[tuple[int, int, dict]]  # what the NSGA-II campaign sent to its progress callback


def tiny_campaigns(tmp_path_factory) -> TinyCampaigns:
    """Run the two campaigns on first use (about 40 s on 2 cores) and return them."""
    if "value" in _cache:
        return _cache["value"]
    import ray

    from shinka.campaign.runner import Campaign

    folder = tmp_path_factory.mktemp("user-campaigns")
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    results = {}
    calls: list[tuple[int, int, dict]] = []
    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING")
    try:
        # The random campaign measures nothing and logs no model at its end, so the tests stay short.
        # It shares val_bpb and memory_mb@raspberry-pi-5 with the NSGA-II campaign for comparisons.
        random_settings = {
            "objectives": ["val_bpb", "memory_mb@raspberry-pi-5", "weight_mb"],
            "hardware": {"profiles": ["raspberry-pi-5"]},
            "tracking": {"uri": uri, "log_models": 0},
        }
        for name, strategy, budget, extra in (
            ("nsga2", {"name": "nsga2", "population_size": 4}, 6, {"tracking": {"uri": uri}}),
            ("random", {"name": "random"}, 4, random_settings),
        ):
            campaign_folder = folder / name
            campaign_folder.mkdir()
            config = write_campaign(
                campaign_folder, name=f"tiny-{name}", strategy=strategy, budget={"evaluations": budget},
                output_dir=str(campaign_folder / "runs"), **extra,
            )
            campaign = Campaign.prepare(config)
            if name == "nsga2":
                campaign.progress = lambda done, total, metrics: calls.append((done, total, dict(metrics)))
            results[name] = campaign.run()
    finally:
        if started:
            ray.shutdown()
    _cache["value"] = TinyCampaigns(uri, results["nsga2"], results["random"], calls)
    return _cache["value"]


def campaign_dir(result) -> Path:
    return Path(result.campaign_dir)
