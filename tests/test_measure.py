"""Measurement of a built model: latency, psutil peak memory, RAPL energy, measure_candidate, and its scheduling.

This machine has no /sys/class/powercap, so the RAPL code path runs against a
fake powercap folder built in tmp_path: files with the kernel's names and
layout, and a thread that advances the package counter the way the kernel does.
"""

from __future__ import annotations

import math
import os
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from shinka.campaign.evaluation import measure_candidate, train_candidate
from shinka.campaign.scheduler import Evaluation, RayScheduler
from shinka.hardware.measure import measure_latency, quartiles, release_free_memory, rss_bytes
from shinka.hardware.profile import load_named_profile
from shinka.hardware.rapl import RaplReader, find_package_zones
from shinka.model.arch import arch_from_values
from shinka.model.transformer import Transformer
from shinka.proxy.train import TrainSettings

GENES = {"n_layer": 1, "d_model": 64, "n_head": 2, "ffn_mult": 2.0, "vocab_size": 256, "context_length": 16}


def make_zone(root: Path, folder: str, name: str, energy_uj: int, max_range_uj: int = 262143328850) -> Path:
    zone = root / folder
    zone.mkdir(parents=True)
    (zone / "name").write_text(f"{name}\n")
    (zone / "energy_uj").write_text(f"{energy_uj}\n")
    (zone / "max_energy_range_uj").write_text(f"{max_range_uj}\n")
    return zone


def write_counter(zone: Path, energy_uj: int) -> None:
    """Replace energy_uj atomically, so that a reader never sees a half-written number."""
    temporary = zone / "energy_uj.tmp"
    temporary.write_text(f"{energy_uj}\n")
    os.replace(temporary, zone / "energy_uj")


def test_rapl_finds_package_zones_only(tmp_path):
    make_zone(tmp_path, "intel-rapl:0", "package-0", 1000)
    make_zone(tmp_path, "intel-rapl:0:0", "core", 500)
    make_zone(tmp_path, "intel-rapl:1", "psys", 9000)
    make_zone(tmp_path, "intel-rapl:2", "package-1", 2000)
    names = [zone.name for zone in find_package_zones(tmp_path)]
    assert names == ["package-0", "package-1"]


def test_rapl_missing_root_unavailable(tmp_path):
    assert not RaplReader(tmp_path / "no-powercap").available


def test_rapl_unreadable_counter_unavailable(tmp_path):
    zone = make_zone(tmp_path, "intel-rapl:0", "package-0", 1000)
    (zone / "energy_uj").write_text("not a number\n")
    assert not RaplReader(tmp_path).available


def test_rapl_joules_sum_zones(tmp_path):
    first = make_zone(tmp_path, "intel-rapl:0", "package-0", 1_000_000)
    second = make_zone(tmp_path, "intel-rapl:1", "package-1", 5_000_000)
    reader = RaplReader(tmp_path)
    before = reader.read()
    write_counter(first, 3_500_000)
    write_counter(second, 6_000_000)
    assert reader.joules_between(before, reader.read()) == pytest.approx(3.5)


def test_rapl_joules_across_wrap(tmp_path):
    zone = make_zone(tmp_path, "intel-rapl:0", "package-0", 9_000_000, max_range_uj=9_999_999)
    reader = RaplReader(tmp_path)
    before = reader.read()
    write_counter(zone, 500_000)  # wrapped: 999,999 uJ to the top, 1 to reach 0, then 500,000
    assert reader.joules_between(before, reader.read()) == pytest.approx(1.5)


@pytest.fixture
def ticking_rapl(tmp_path):
    """A fake package zone whose counter rises 1 uJ per 10 us, like a 100 W package."""
    zone = make_zone(tmp_path, "intel-rapl:0", "package-0", 0)
    stop = threading.Event()

    def tick() -> None:
        energy = 0
        while not stop.wait(0.001):
            energy += 100
            write_counter(zone, energy)

    thread = threading.Thread(target=tick, daemon=True)
    thread.start()
    yield RaplReader(tmp_path)
    stop.set()
    thread.join()


@pytest.fixture
def model():
    torch.manual_seed(0)
    return Transformer(arch_from_values(GENES))


def test_measure_reports_latencies(model):
    result = measure_latency(model, warmup=1, repeats=3, threads=1, rapl=RaplReader(Path("/nonexistent")))
    for key in ("latency_ms_prefill", "latency_ms_per_token_decode"):
        assert result[key] > 0
        assert math.isfinite(result[key])


def test_measure_sources_measured(model):
    result = measure_latency(model, warmup=0, repeats=2, threads=1, rapl=RaplReader(Path("/nonexistent")))
    assert set(result.sources.values()) == {"measured"}
    assert set(result.sources) == set(result)


def test_measure_without_rapl_leaves_energy_out(model):
    result = measure_latency(model, warmup=0, repeats=2, threads=1, rapl=RaplReader(Path("/nonexistent")))
    assert "energy_mj_per_token" not in result
    assert "energy_mj_prefill" not in result


def test_measure_energy_keys_with_readable_rapl(model, tmp_path):
    make_zone(tmp_path, "intel-rapl:0", "package-0", 1000)  # a counter that never moves
    result = measure_latency(model, warmup=0, repeats=2, threads=1, rapl=RaplReader(tmp_path))
    assert result["energy_mj_prefill"] == 0.0
    assert result["energy_mj_per_token"] == 0.0
    assert result.sources["energy_mj_per_token"] == "measured"


def test_measure_energy_from_ticking_rapl(ticking_rapl):
    # 32 decode steps per repeat, long enough for the counter thread to run in between.
    model = Transformer(arch_from_values({**GENES, "context_length": 64}))
    result = measure_latency(model, warmup=0, repeats=3, threads=1, rapl=ticking_rapl)
    assert result["energy_mj_per_token"] > 0


def test_measure_memory_includes_weights():
    release_free_memory()
    baseline = rss_bytes()
    big = Transformer(arch_from_values({**GENES, "d_model": 512, "n_head": 4, "ffn_mult": 4.0}))
    weights_mb = sum(p.numel() * 4 for p in big.parameters()) / 1e6
    result = measure_latency(big, warmup=0, repeats=1, threads=1, memory_baseline_bytes=baseline)
    assert result["measured_memory_mb"] >= 0.5 * weights_mb


def test_measure_memory_positive(model):
    result = measure_latency(model, warmup=0, repeats=1, threads=1, batch=4)
    assert result["measured_memory_mb"] >= 0


def test_measure_restores_threads(model):
    before = torch.get_num_threads()
    measure_latency(model, warmup=0, repeats=1, threads=1)
    assert torch.get_num_threads() == before


def test_measure_candidate_returns_floats(model):
    state = {name: tensor.clone() for name, tensor in model.state_dict().items()}
    result = measure_candidate(model.arch.to_dict(), state, 1, 1, None, 0, 2)
    assert all(isinstance(value, float) for value in result.values())
    assert result["measured_memory_mb"] > 0


def test_quartiles_odd_samples():
    assert quartiles([1.0, 2.0, 3.0, 4.0, 5.0]) == (2.0, 3.0, 4.0)


def test_quartiles_single_sample():
    assert quartiles([7.0]) == (7.0, 7.0, 7.0)



def overlapping_pairs(first: list[tuple[float, float]], second: list[tuple[float, float]]) -> list[tuple[int, int]]:
    """Return the index pairs (i, j), i != j when both lists are the same list, whose time intervals overlap."""
    return [
        (i, j)
        for i, (start_a, end_a) in enumerate(first)
        for j, (start_b, end_b) in enumerate(second)
        if not (first is second and i == j) and start_a < end_b and start_b < end_a
    ]


def test_measurement_never_beside_training(ray_local):
    """Drive RayScheduler as the campaign loop does: 4 candidates, 2 one-CPU training workers, local Ray on 2 CPUs.

    Training and measurement are the real tasks, wrapped to return their wall-clock
    start and end. The measurement wrapper goes in through `measure_function`, and
    the scheduler submits it with its own resource request.
    One-block candidates train for 0.4 s and two-block ones for 1.6 s, so a
    measurement of a one-block candidate is ready while the other worker still
    trains. With a one-CPU measurement request this test fails.
    """
    settings = TrainSettings(train_tokens=512, batch_size=4, sequence_length=16, validation_tokens=256)
    corpus = np.frombuffer(bytes(range(256)) * 16, dtype=np.uint8).copy()

    def timed_training(arch_dict, train, validation, settings, threads):
        started = time.time()
        result = train_candidate(arch_dict, train, validation, settings, threads)
        time.sleep(max(0.0, 0.4 * len(arch_dict["layers"]) ** 2 - (time.time() - started)))
        return {**result, "started": started, "ended": time.time()}

    def timed_measurement(*args, **kwargs):
        from shinka.campaign.scheduler import _measure_with_node

        started = time.time()
        result = _measure_with_node(*args, **kwargs)
        return {**result, "started": started, "ended": time.time()}

    scheduler = RayScheduler(
        ray_local, corpus, corpus, settings, threads=1, workers=2,
        profiles={"local-cpu": load_named_profile("local-cpu")},
        measure_options={"batch": 1, "context": 16, "warmup": 0, "repeats": 1},
        train_function=timed_training, measure_function=timed_measurement,
    )
    evaluations = [
        Evaluation(key=index, arch=arch_from_values({**GENES, "n_layer": 1 + index % 2})) for index in range(4)
    ]
    finished = []
    while len(finished) < len(evaluations):
        while len(finished) + scheduler.pending() < len(evaluations) and scheduler.can_submit():
            scheduler.submit(evaluations[len(finished) + scheduler.pending()])
        finished.append(scheduler.wait())

    trainings = [(e.trained["started"], e.trained["ended"]) for e in finished]
    measurements = [(e.latency["local-cpu"]["started"], e.latency["local-cpu"]["ended"]) for e in finished]
    assert all(e.trained["status"] == "ok" for e in finished)
    assert scheduler.placements[0].options["num_cpus"] == 2
    assert overlapping_pairs(trainings, trainings), "training never ran in parallel, so no overlap could show"
    assert overlapping_pairs(measurements, trainings) == []
