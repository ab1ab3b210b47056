"""Choosing candidates to export: the per-profile pick and the selection rules, on synthetic journals."""

from __future__ import annotations

from pathlib import Path

import pytest

from shinka.campaign.results import CampaignFolder, best_for_profile, profile_objectives
from shinka.errors import UserError
from shinka.export_candidates import parse_formats, select_candidates

OBJECTIVES = ["val_bpb", "memory_mb@pi"]


def record(cid, bpb, memory, latency=1.0, fits=1.0, status="ok"):
    metrics = {"val_bpb": bpb, "memory_mb@pi": memory, "latency_ms_per_token_decode@pi": latency,
               "fits_memory@pi": fits, "memory_mb@gpu": memory, "latency_ms_per_token_decode@gpu": latency}
    return {"candidate_id": cid, "status": status, "genome": {"n_layer": 1}, "metrics": metrics}


def campaign(records):
    return CampaignFolder(Path("c"), "c", OBJECTIVES, len(records), ["pi", "gpu"], "nsga2", records, {})


def test_profile_objectives_from_campaign():
    assert profile_objectives(OBJECTIVES, "pi") == ["val_bpb", "memory_mb@pi"]


def test_profile_objectives_default_metrics():
    assert profile_objectives(OBJECTIVES, "gpu") == [
        "val_bpb", "latency_ms_per_token_decode@gpu", "memory_mb@gpu"]


def test_best_for_profile_knee():
    records = [record("big", 1.0, 100.0), record("knee", 1.1, 20.0), record("small", 3.0, 10.0)]
    assert best_for_profile(records, OBJECTIVES, "pi") == "knee"


def test_best_for_profile_skips_too_big():
    records = [record("knee", 1.1, 20.0, fits=0.0), record("big", 1.0, 100.0), record("small", 3.0, 10.0)]
    assert best_for_profile(records, OBJECTIVES, "pi") in {"big", "small"}


def test_best_for_profile_unknown():
    with pytest.raises(UserError, match="unknown profile"):
        best_for_profile([record("a", 1.0, 1.0)], OBJECTIVES, "tpu")


def test_best_for_profile_nothing_fits():
    with pytest.raises(UserError, match="no successful candidate fits"):
        best_for_profile([record("a", 1.0, 1.0, fits=0.0)], OBJECTIVES, "pi")


def test_select_front_order():
    records = [record("b", 2.0, 1.0), record("a", 1.0, 2.0), record("dominated", 3.0, 3.0)]
    assert select_candidates(campaign(records), front=True) == [("01-a", "a"), ("02-b", "b")]


def test_select_top_fills_ranks():
    records = [record("b", 2.0, 1.0), record("a", 1.0, 2.0), record("dominated", 3.0, 3.0)]
    assert [cid for _, cid in select_candidates(campaign(records), top=3)] == ["a", "b", "dominated"]


def test_select_failed_candidate():
    records = [record("a", 1.0, 1.0), record("broken", 1.0, 1.0, status="failed")]
    with pytest.raises(UserError, match="failed"):
        select_candidates(campaign(records), candidates=["broken"])


def test_select_needs_one_rule():
    with pytest.raises(UserError, match="exactly one"):
        select_candidates(campaign([record("a", 1.0, 1.0)]), front=True, top=2)


def test_select_invalid_top():
    with pytest.raises(UserError, match="--top"):
        select_candidates(campaign([record("a", 1.0, 1.0)]), top=0)


def test_parse_formats_order():
    assert parse_formats("onnx, config") == ["config", "onnx"]


def test_parse_formats_empty():
    with pytest.raises(UserError, match="unknown export format"):
        parse_formats(",")
