"""Resume after SIGKILL of the driver: nothing lost, nothing evaluated twice, same front."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import mlflow
import pytest
from conftest import write_campaign

pytestmark = pytest.mark.slow

# Objectives without a measured latency, so two runs with the same seed agree exactly.
DETERMINISTIC = {
    "objectives": ["val_bpb", "latency_ms_per_token_decode@raspberry-pi-5", "memory_mb@jetson-orin-nano"],
    "hardware": {"profiles": ["raspberry-pi-5", "jetson-orin-nano"]},
    "budget": {"evaluations": 8},
    "ray": {"num_cpus": 1, "workers": 1},
}


def shinka(*args: str, cwd: Path, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "shinka", *args], capture_output=True, text=True, cwd=cwd, timeout=600, **kwargs)


def journal_ids(campaign_dir: Path) -> list[str]:
    lines = (campaign_dir / "journal.jsonl").read_text().splitlines()
    return [json.loads(line)["candidate_id"] for line in lines if line.strip()]


def front_ids(campaign_dir: Path) -> set[str]:
    import pandas as pd

    table = pd.read_csv(campaign_dir / "front.csv", dtype={"candidate_id": str})
    return set(table.loc[table["on_front"], "candidate_id"])


def only_campaign(folder: Path) -> Path:
    [campaign_dir] = list((folder / "runs").iterdir())
    return campaign_dir


@pytest.fixture(scope="module")
def straight_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("straight")
    completed = shinka("run", str(write_campaign(folder, **DETERMINISTIC)), cwd=folder)
    assert completed.returncode == 0, completed.stderr[-3000:]
    return only_campaign(folder)


@pytest.fixture(scope="module")
def killed_and_resumed(tmp_path_factory):
    folder = tmp_path_factory.mktemp("killed")
    config = write_campaign(folder, **DETERMINISTIC)
    process = subprocess.Popen(
        [sys.executable, "-m", "shinka", "run", str(config)], cwd=folder,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    deadline = time.monotonic() + 300
    journal = None
    while time.monotonic() < deadline:
        found = list((folder / "runs").glob("*/journal.jsonl")) if (folder / "runs").exists() else []
        if found and len(found[0].read_text().splitlines()) >= 3:
            journal = found[0]
            break
        if process.poll() is not None:
            break
        time.sleep(0.2)
    assert journal is not None, "the campaign did not reach 3 evaluations"
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    done_before = len(journal_ids(journal.parent))
    completed = shinka("resume", str(journal.parent), cwd=folder)
    assert completed.returncode == 0, completed.stderr[-3000:]
    return journal.parent, done_before


def test_killed_before_budget(killed_and_resumed):
    _, done_before = killed_and_resumed
    assert 3 <= done_before < 8


def test_resume_completes_budget(killed_and_resumed):
    campaign_dir, _ = killed_and_resumed
    ids = journal_ids(campaign_dir)
    assert len(ids) == 8
    assert len(set(ids)) == 8


def test_resume_same_candidates(straight_run, killed_and_resumed):
    campaign_dir, _ = killed_and_resumed
    assert journal_ids(campaign_dir) == journal_ids(straight_run)


def test_resume_same_front(straight_run, killed_and_resumed):
    campaign_dir, _ = killed_and_resumed
    assert front_ids(campaign_dir) == front_ids(straight_run)


def test_resume_one_child_run_each(killed_and_resumed):
    campaign_dir, _ = killed_and_resumed
    metadata = json.loads((campaign_dir / "campaign.json").read_text())
    mlflow.set_tracking_uri(metadata["tracking_uri"])
    runs = mlflow.search_runs(
        search_all_experiments=True, filter_string=f"tags.mlflow.parentRunId = '{metadata['parent_run_id']}'"
    )
    assert len(runs) == 8
    assert sorted(runs["tags.candidate_id"]) == sorted(journal_ids(campaign_dir))


def test_ctrl_c_then_resume(tmp_path):
    config = write_campaign(tmp_path, **DETERMINISTIC)
    process = subprocess.Popen(
        [sys.executable, "-m", "shinka", "run", str(config)], cwd=tmp_path,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        found = list((tmp_path / "runs").glob("*/journal.jsonl")) if (tmp_path / "runs").exists() else []
        if found and len(found[0].read_text().splitlines()) >= 2:
            break
        time.sleep(0.2)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=300)
    assert process.returncode == 130, stderr[-3000:]
    campaign_dir = only_campaign(tmp_path)
    stopped_at = len(journal_ids(campaign_dir))
    assert 2 <= stopped_at < 8
    completed = shinka("resume", str(campaign_dir), cwd=tmp_path)
    assert completed.returncode == 0, completed.stderr[-3000:]
    ids = journal_ids(campaign_dir)
    assert len(ids) == 8
    assert len(set(ids)) == 8
