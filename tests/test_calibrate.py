"""Calibration: the least-squares fit of latency terms, and `shinka hardware calibrate` end to end."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from shinka.cost.counts import decode_operators, prefill_operators
from shinka.errors import UserError
from shinka.hardware.calibrate import EFFICIENCY_GRID, ReferencePoint, calibrate, fit_latency_terms
from shinka.hardware.profile import HardwareProfile, load_profile
from shinka.hardware.roofline import pass_seconds, pass_terms
from shinka.model.arch import arch_from_values

SHINKA = Path(sys.executable).parent / "shinka"

# A device whose true terms lie on the fit's grid, so that the fit can recover them exactly.
TRUE = HardwareProfile(
    name="true-device",
    kind="cpu",
    peak_flops={"fp32": 2e11},
    memory_bandwidth_gbs=20,
    memory_gb=8,
    power_idle_w=5,
    power_peak_w=20,
    runtime_format="fp32",
    operator_overhead_us=6.0,
    layer_overhead_us=25.0,
    layer_token_overhead_us=0.75,
    step_overhead_us=80.0,
    efficiency={"compute": float(EFFICIENCY_GRID[30]), "memory": float(EFFICIENCY_GRID[25])},
)

SHAPES = [
    {"n_layer": 1, "d_model": 64, "n_head": 1},
    {"n_layer": 4, "d_model": 192, "n_head": 4, "n_kv_head": 2},
    {"n_layer": 2, "d_model": 128, "n_head": 2, "rank_ratio": 0.25},
    {"n_layer": 3, "d_model": 96, "n_head": 4, "n_kv_head": 1, "ffn_mult": 1.0},
    {"n_layer": 2, "d_model": 1024, "n_head": 8, "context_length": 256},
]


def synthetic_points() -> list[ReferencePoint]:
    """Latencies that TRUE's roofline predicts exactly, as if measured on that device."""
    points = []
    for genes in SHAPES:
        arch = arch_from_values({"vocab_size": 256, "context_length": 64, **genes})
        passes = (("decode", decode_operators(arch), 1), ("prefill", prefill_operators(arch), arch.context_length))
        for phase, operators, tokens in passes:
            terms = pass_terms(arch, TRUE, operators, tokens=tokens)
            points.append(ReferencePoint(str(genes), phase, terms, pass_seconds(terms, TRUE)))
    return points


def test_fit_recovers_true_terms():
    fit = fit_latency_terms(synthetic_points())
    assert fit.efficiency_compute == pytest.approx(TRUE.efficiency.compute)
    assert fit.efficiency_memory == pytest.approx(TRUE.efficiency.memory)
    assert fit.operator_overhead_us == pytest.approx(6.0, rel=1e-6)
    assert fit.layer_overhead_us == pytest.approx(25.0, rel=1e-6)
    assert fit.layer_token_overhead_us == pytest.approx(0.75, rel=1e-6)
    assert fit.step_overhead_us == pytest.approx(80.0, rel=1e-6)


def test_fit_leaves_no_error_on_exact_points():
    fit = fit_latency_terms(synthetic_points())
    assert fit.median_abs_error < 1e-9


def test_fit_overheads_never_negative():
    points = [
        ReferencePoint(p.label, p.phase, p.terms, p.measured_s * (0.5 if p.phase == "decode" else 1.0))
        for p in synthetic_points()
    ]
    fit = fit_latency_terms(points)
    assert min(fit.operator_overhead_us, fit.layer_overhead_us, fit.layer_token_overhead_us, fit.step_overhead_us) >= 0


def test_fit_without_points():
    with pytest.raises(ValueError):
        fit_latency_terms([])


def test_calibrate_rejects_bad_name(tmp_path):
    with pytest.raises(UserError) as raised:
        calibrate("Bad Name", out_dir=tmp_path, quick=True)
    assert raised.value.field == "--name"


@pytest.fixture(scope="module")
def calibrated(tmp_path_factory):
    """Run `shinka hardware calibrate --quick` once, over an existing local-cpu.yaml with hand-set power."""
    folder = tmp_path_factory.mktemp("profiles")
    existing = {
        "name": "local-cpu", "kind": "cpu", "peak_flops": {"fp32": 1e10}, "memory_bandwidth_gbs": 1,
        "memory_gb": 1, "power_idle_w": 7.5, "power_peak_w": 33.0, "ray_resource": "my_cpu",
        "sources": {"power_idle_w": "read off a wall meter"},
    }
    (folder / "local-cpu.yaml").write_text(yaml.safe_dump(existing))
    result = subprocess.run(
        [str(SHINKA), "hardware", "calibrate", "--name", "local-cpu", "--out", str(folder), "--quick"],
        capture_output=True, text=True, timeout=300,
    )
    return folder / "local-cpu.yaml", result


def test_calibrate_cli_succeeds(calibrated):
    _, result = calibrated
    assert result.returncode == 0, result.stderr
    assert "wrote" in result.stdout


def test_calibrate_writes_valid_profile(calibrated):
    path, _ = calibrated
    profile = load_profile(path)
    assert profile.name == "local-cpu"
    assert profile.peak_flops["fp32"] > 0
    assert profile.memory_bandwidth_gbs > 0


def test_calibrate_local_cpu_measured_fp32(calibrated):
    path, _ = calibrated
    profile = load_profile(path)
    assert profile.measure is True
    assert profile.runtime_format == "fp32"


def test_calibrate_keeps_unmeasured_fields(calibrated):
    path, _ = calibrated
    profile = load_profile(path)
    assert profile.power_idle_w == 7.5
    assert profile.ray_resource == "my_cpu"
    assert profile.sources["power_idle_w"] == "read off a wall meter"


def test_calibrate_sources_every_measured_field(calibrated):
    path, _ = calibrated
    profile = load_profile(path)
    for key in ("peak_flops.fp32", "memory_bandwidth_gbs", "efficiency.compute", "operator_overhead_us", "layer_token_overhead_us"):
        assert profile.sources[key].startswith("measured"), key


def test_calibrate_validates_through_cli(calibrated):
    path, _ = calibrated
    result = subprocess.run([str(SHINKA), "hardware", "validate", str(path)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def test_calibrate_other_name_not_measured(tmp_path):
    path, profile, fit = calibrate("my-box", out_dir=tmp_path, quick=True)
    assert path == tmp_path / "my-box.yaml"
    assert profile.measure is False
    assert len(fit.relative_errors) == 6
