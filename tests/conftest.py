"""Shared fixtures: a local Ray instance per test module and tiny campaign files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Keep torch from oversubscribing the two cores that tests run on.
os.environ.setdefault("OMP_NUM_THREADS", "1")


@pytest.fixture(scope="module")
def ray_local():
    """Start local Ray once for the module (about 4 s) and shut it down after."""
    import ray

    if not ray.is_initialized():
        ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING")
        yield ray
        ray.shutdown()
    else:
        yield ray


def write_campaign(folder: Path, **overrides) -> Path:
    """Write a tiny transformer campaign (6 candidates, 8,192 training tokens each) into `folder`."""
    import yaml

    config = {
        "name": "tiny",
        "seed": 0,
        "search_space": str(ROOT / "search_spaces" / "tiny.yaml"),
        "objectives": ["val_bpb", "latency_ms_per_token_decode@local-cpu", "memory_mb@raspberry-pi-5"],
        "strategy": {"name": "nsga2", "population_size": 4},
        "budget": {"evaluations": 6},
        "proxy": {"train_tokens": 8192, "validation_tokens": 2048, "max_corpus_bytes": 400_000},
        "hardware": {"profiles": ["local-cpu", "raspberry-pi-5"], "warmup": 1, "repeats": 2},
        "tracking": {"uri": f"sqlite:///{folder / 'mlflow.db'}"},
        "output_dir": str(folder / "runs"),
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(config.get(key), dict):
            config[key] = {**config[key], **value}
        else:
            config[key] = value
    path = folder / "campaign.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path
