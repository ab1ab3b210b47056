"""Comparing campaigns under one normalization, on synthetic journals (no training)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from shinka.campaign.results import CampaignFolder, compare_campaigns, normalize_common
from shinka.errors import UserError


def folder(name: str, points: list[tuple[float, float]], objectives=("val_bpb", "weight_mb"), failed: int = 0):
    records = [
        {"candidate_id": f"{name}{i}", "status": "ok", "genome": {}, "metrics": dict(zip(objectives, point))}
        for i, point in enumerate(points)
    ]
    records += [{"candidate_id": f"{name}-failed{i}", "status": "failed", "genome": {}, "metrics": {}} for i in range(failed)]
    return CampaignFolder(Path(name), name, list(objectives), len(records), [], "random", records, {})


def test_normalize_common_bounds():
    normalized = normalize_common({"a": np.array([[1.0, 10.0], [3.0, 30.0]]), "b": np.array([[2.0, 50.0]])})
    np.testing.assert_allclose(normalized["a"], [[0.0, 0.0], [1.0, 0.5]])
    np.testing.assert_allclose(normalized["b"], [[0.5, 1.0]])


def test_compare_dominating_campaign_wins():
    better = folder("better", [(1.0, 2.0), (2.0, 1.0)])
    worse = folder("worse", [(2.0, 3.0), (3.0, 2.0)])
    summary, _, _ = compare_campaigns([better, worse])
    volumes = dict(zip(summary["campaign"], summary["hypervolume"]))
    assert volumes["better"] > volumes["worse"]


def test_compare_combined_front_share():
    better = folder("better", [(1.0, 2.0), (2.0, 1.0)])
    worse = folder("worse", [(2.0, 3.0), (3.0, 2.0)])
    summary, _, _ = compare_campaigns([better, worse])
    shares = dict(zip(summary["campaign"], summary["on_combined_front"]))
    assert shares == {"better": 2, "worse": 0}


def test_compare_counts_failures():
    summary, _, _ = compare_campaigns([folder("a", [(1.0, 1.0)], failed=2), folder("b", [(2.0, 2.0)])])
    row = summary.set_index("campaign").loc["a"]
    assert row["evaluated"] == 3
    assert row["failed"] == 2


def test_compare_same_hypervolume_for_copies():
    points = [(1.0, 3.0), (2.0, 2.0), (3.0, 1.0)]
    summary, _, _ = compare_campaigns([folder("a", points), folder("b", points)])
    assert summary["hypervolume"].iloc[0] == summary["hypervolume"].iloc[1]


def test_compare_shared_objectives_only():
    a = folder("a", [(1.0, 2.0, 3.0)], objectives=("val_bpb", "weight_mb", "memory_mb@raspberry-pi-5"))
    b = folder("b", [(2.0, 1.0)], objectives=("weight_mb", "val_bpb"))
    _, fronts, shared = compare_campaigns([a, b])
    assert shared == ["val_bpb", "weight_mb"]
    assert list(fronts["a"].columns) == ["candidate_id", "val_bpb", "weight_mb"]


def test_compare_too_few_shared():
    a = folder("a", [(1.0, 2.0)], objectives=("val_bpb", "weight_mb"))
    b = folder("b", [(1.0, 2.0)], objectives=("val_bpb", "params_total"))
    with pytest.raises(UserError, match="fewer than two objectives"):
        compare_campaigns([a, b])


def test_compare_same_folder_names_labeled():
    summary, _, _ = compare_campaigns([folder("run", [(1.0, 1.0)]), folder("run", [(2.0, 2.0)])])
    assert list(summary["campaign"]) == ["run#1", "run#2"]
