"""Hardware profiles: the shipped files, `shinka hardware` commands, and one-line validation errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from shinka.errors import UserError
from shinka.hardware.profile import (
    DEFAULT_DRAM_PJ_PER_BYTE,
    PROFILES_DIR,
    HardwareProfile,
    available_profiles,
    load_named_profile,
    load_profile,
)

SHINKA = Path(sys.executable).parent / "shinka"

VALID = """\
name: {name}
kind: cpu
description: a test device
peak_flops:
  fp32: 1.0e11
  int8: 4.0e11
memory_bandwidth_gbs: 20
memory_gb: 8
power_idle_w: 2
power_peak_w: 10
sources:
  memory_bandwidth_gbs: made up for a test
"""


def shinka(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run the installed `shinka` command as a user would."""
    return subprocess.run([str(SHINKA), *args], capture_output=True, text=True, cwd=cwd, timeout=120)


def write_profile(folder: Path, text: str, name: str = "test-device") -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("name", available_profiles())
def test_shipped_profile_valid(name):
    profile = load_named_profile(name)
    assert profile.name == name


@pytest.mark.parametrize("name", available_profiles())
def test_shipped_profile_sources_every_peak(name):
    profile = load_named_profile(name)
    missing = [fmt for fmt in profile.peak_flops if f"peak_flops.{fmt}" not in profile.sources]
    assert missing == []


def test_default_dram_energy_per_byte():
    profile = HardwareProfile(
        name="x", kind="cpu", peak_flops={"fp32": 1e9}, memory_bandwidth_gbs=1, memory_gb=1,
        power_idle_w=1, power_peak_w=2,
    )
    assert profile.energy_pj_per_dram_byte == DEFAULT_DRAM_PJ_PER_BYTE


def test_load_profile_valid_file(tmp_path):
    path = write_profile(tmp_path, VALID.format(name="test-device"))
    assert load_profile(path).peak_flops["int8"] == 4.0e11


def test_load_profile_name_must_match_stem(tmp_path):
    path = write_profile(tmp_path, VALID.format(name="other-name"))
    with pytest.raises(UserError) as raised:
        load_profile(path)
    assert raised.value.field == "name"
    assert raised.value.line == 1


def test_load_profile_unknown_sources_key(tmp_path):
    path = write_profile(tmp_path, VALID.format(name="test-device") + "  peak_flop.fp32: typo\n")
    with pytest.raises(UserError) as raised:
        load_profile(path)
    assert raised.value.field == "sources.peak_flop.fp32"
    assert raised.value.line == 13


def test_runtime_format_needs_its_peak(tmp_path):
    path = write_profile(tmp_path, VALID.format(name="test-device") + "runtime_format: bf16\n")
    with pytest.raises(UserError) as raised:
        load_profile(path)
    assert raised.value.field == "runtime_format"
    assert raised.value.line == 13


# (case, text change, expected line, expected field). Line numbers refer to VALID after the change.
BAD_PROFILES = [
    ("missing field", lambda t: t.replace("memory_gb: 8\n", ""), 1, "memory_gb"),
    ("zero bandwidth", lambda t: t.replace("memory_bandwidth_gbs: 20", "memory_bandwidth_gbs: 0"), 7, "memory_bandwidth_gbs"),
    ("negative bandwidth", lambda t: t.replace("memory_bandwidth_gbs: 20", "memory_bandwidth_gbs: -5"), 7, "memory_bandwidth_gbs"),
    ("zero peak", lambda t: t.replace("int8: 4.0e11", "int8: 0"), 6, "peak_flops.int8"),
    ("negative peak", lambda t: t.replace("fp32: 1.0e11", "fp32: -1.0e+11"), 5, "peak_flops.fp32"),
    ("unknown format", lambda t: t.replace("int8: 4.0e11", "fp8: 4.0e11"), 6, "peak_flops.fp8"),
    ("unknown field", lambda t: t + "memory_gib: 8\n", 13, "memory_gib"),
    ("unknown kind", lambda t: t.replace("kind: cpu", "kind: tpu"), 2, "kind"),
    ("text for a number", lambda t: t.replace("power_peak_w: 10", "power_peak_w: ten"), 10, "power_peak_w"),
    ("efficiency above one", lambda t: t + "efficiency:\n  compute: 1.5\n", 14, "efficiency.compute"),
    ("yaml syntax error", lambda t: t.replace("memory_gb: 8", "memory_gb: 8: 9"), 8, "memory_gb"),
    ("unclosed bracket", lambda t: t.replace("kind: cpu", "kind: [cpu"), 2, "kind"),
    ("unclosed quote", lambda t: t.replace("fp32: 1.0e11", 'fp32: "1.0e11'), 5, "peak_flops.fp32"),
]


@pytest.mark.parametrize("case, change, line, field", BAD_PROFILES, ids=[case[0] for case in BAD_PROFILES])
def test_validate_rejects_bad_profile(tmp_path, case, change, line, field):
    path = write_profile(tmp_path, change(VALID.format(name="test-device")))
    result = shinka("hardware", "validate", str(path))
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2
    assert len(lines) == 1
    assert lines[0].startswith(f"error: {path}:{line}:")
    assert f"field '{field}'" in lines[0]
    assert "Traceback" not in result.stderr


def test_validate_empty_file(tmp_path):
    path = write_profile(tmp_path, "")
    result = shinka("hardware", "validate", str(path))
    assert result.returncode == 2
    assert result.stderr.startswith(f"error: {path}")


def test_validate_accepts_good_profile(tmp_path):
    path = write_profile(tmp_path, VALID.format(name="test-device"))
    result = shinka("hardware", "validate", str(path))
    assert result.returncode == 0
    assert "valid profile 'test-device'" in result.stdout


def test_validate_missing_file(tmp_path):
    result = shinka("hardware", "validate", str(tmp_path / "absent.yaml"))
    assert result.returncode == 2
    assert "not found" in result.stderr


def test_list_names_every_profile():
    result = shinka("hardware", "list")
    names = [line.split()[0] for line in result.stdout.splitlines()]
    assert result.returncode == 0
    assert names == available_profiles()


def test_show_fills_defaults():
    result = shinka("hardware", "show", "raspberry-pi-5")
    assert result.returncode == 0
    assert "layer_overhead_us: 0.0" in result.stdout


def test_show_unknown_name():
    result = shinka("hardware", "show", "no-such-device")
    assert result.returncode == 2
    assert "unknown hardware profile" in result.stderr
    assert "raspberry-pi-5" in result.stderr


def test_profiles_dir_is_repository_folder():
    assert PROFILES_DIR.name == "hardware_profiles"
