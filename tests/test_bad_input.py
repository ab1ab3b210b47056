"""User mistakes in campaign and search space files: one line, exit code 2, nothing written."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import ROOT, write_campaign

TINY = (ROOT / "search_spaces" / "tiny.yaml").read_text()


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "shinka", *args], capture_output=True, text=True, cwd=cwd, timeout=120
    )


def assert_user_error(completed: subprocess.CompletedProcess, *fragments: str) -> None:
    assert completed.returncode == 2, completed.stderr
    lines = completed.stderr.strip().splitlines()
    assert len(lines) == 1, completed.stderr
    assert "Traceback" not in completed.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


def write_space(folder: Path, text: str) -> Path:
    path = folder / "space.yaml"
    path.write_text(text)
    return path


def test_unknown_gene(tmp_path):
    space = write_space(tmp_path, TINY.replace("genes:\n", "genes:\n  n_experts: [1, 2]\n"))
    campaign = write_campaign(tmp_path, search_space=str(space))
    completed = run_cli("run", str(campaign), cwd=tmp_path)
    assert_user_error(completed, str(space), "genes.n_experts", "allowed:")
    assert not (tmp_path / "runs").exists()
    assert not (tmp_path / "mlflow.db").exists()


def test_gene_value_cannot_build(tmp_path):
    space = write_space(tmp_path, TINY.replace("[fp16, int8, int4, ternary]", "[fp16, int3]"))
    campaign = write_campaign(tmp_path, search_space=str(space))
    completed = run_cli("run", str(campaign), cwd=tmp_path)
    assert_user_error(completed, str(space), "genes.weight_format", "'int3'", "ternary")


def test_zero_width_gene(tmp_path):
    space = write_space(tmp_path, TINY.replace("d_model: [64, 96, 128, 192]", "d_model: [0, 64]"))
    campaign = write_campaign(tmp_path, search_space=str(space))
    completed = run_cli("run", str(campaign), cwd=tmp_path)
    assert_user_error(completed, "genes.d_model", "got 0", "integer >= 1")


def test_no_buildable_genome(tmp_path):
    space = write_space(tmp_path, TINY.replace("n_head: [1, 2, 4]", "n_head: [5]").replace("n_kv_head: [1, 2, 4]", "n_kv_head: [5]"))
    campaign = write_campaign(tmp_path, search_space=str(space))
    completed = run_cli("run", str(campaign), cwd=tmp_path)
    assert_user_error(completed, str(space), "constraints")


def test_missing_campaign_file(tmp_path):
    completed = run_cli("run", str(tmp_path / "nope.yaml"), cwd=tmp_path)
    assert_user_error(completed, "nope.yaml", "not found")


def test_missing_search_space_file(tmp_path):
    campaign = write_campaign(tmp_path, search_space="missing_space.yaml")
    completed = run_cli("run", str(campaign), cwd=tmp_path)
    assert_user_error(completed, str(campaign), "search_space", "missing_space.yaml")


def test_yaml_syntax_error(tmp_path):
    space = write_space(tmp_path, TINY + "\n  broken: [1, 2\n")
    campaign = write_campaign(tmp_path, search_space=str(space))
    completed = run_cli("run", str(campaign), cwd=tmp_path)
    assert_user_error(completed, str(space), "invalid YAML")


@pytest.mark.parametrize(
    ("override", "fragments"),
    [
        ({"budget": {"evaluations": 0}}, ["budget.evaluations", "got 0", "> 0"]),
        ({"strategy": {"name": "simulated-annealing"}}, ["strategy.name", "simulated-annealing"]),
        ({"objectives": ["val_bpb", "latency_ms@raspberry-pi-5"]}, ["objectives", "latency_ms"]),
        ({"objectives": ["val_bpb", "memory_mb@pixel-99"]}, ["pixel-99", "raspberry-pi-5"]),
        ({"tracking": {"uri": "sqlite:///x.db", "colour": "red"}}, ["tracking.colour", "unknown key"]),
        ({"seed": "zero"}, ["seed", "'zero'"]),
    ],
)
def test_campaign_field_errors(tmp_path, override, fragments):
    campaign = write_campaign(tmp_path, **override)
    completed = run_cli("run", str(campaign), cwd=tmp_path)
    assert_user_error(completed, str(campaign), *fragments)
    assert not (tmp_path / "runs").exists()


def test_unknown_top_level_key_names_line(tmp_path):
    campaign = write_campaign(tmp_path)
    data = yaml.safe_load(campaign.read_text())
    campaign.write_text(yaml.safe_dump({**data, "evaluations": 5}, sort_keys=False))
    completed = run_cli("run", str(campaign), cwd=tmp_path)
    assert_user_error(completed, f"{campaign}:", "evaluations", "unknown key")


def test_empty_corpus(tmp_path):
    (tmp_path / "empty.txt").write_text("")
    campaign = write_campaign(tmp_path, proxy={"corpus": ["empty.txt"]})
    completed = run_cli("run", str(campaign), cwd=tmp_path)
    assert_user_error(completed, "proxy.corpus", "empty")
    assert not (tmp_path / "runs").exists()


def test_binary_corpus(tmp_path):
    (tmp_path / "blob.bin").write_bytes(bytes(range(256)) * 64 + b"\0" * 4096)
    campaign = write_campaign(tmp_path, proxy={"corpus": "*.bin"})
    completed = run_cli("run", str(campaign), cwd=tmp_path)
    assert_user_error(completed, "proxy.corpus", "binary")


def test_corpus_glob_matches_nothing(tmp_path):
    campaign = write_campaign(tmp_path, proxy={"corpus": ["texts/*.md"]})
    completed = run_cli("run", str(campaign), cwd=tmp_path)
    assert_user_error(completed, "proxy.corpus", "texts/*.md")


def test_unreachable_ray_address(tmp_path):
    campaign = write_campaign(tmp_path)
    completed = run_cli("run", str(campaign), "--ray-address", "127.0.0.1:9", cwd=tmp_path)
    assert_user_error(completed, "ray.address", "127.0.0.1:9", "cannot reach")
    assert not (tmp_path / "runs").exists()
    assert not (tmp_path / "mlflow.db").exists()


def test_unreachable_tracking_server(tmp_path):
    campaign = write_campaign(tmp_path, tracking={"uri": "http://127.0.0.1:9"})
    completed = run_cli("run", str(campaign), cwd=tmp_path)
    assert_user_error(completed, "tracking.uri", "http://127.0.0.1:9")
    assert not (tmp_path / "runs").exists()


def test_resume_not_a_campaign(tmp_path):
    completed = run_cli("resume", str(tmp_path), cwd=tmp_path)
    assert_user_error(completed, str(tmp_path), "campaign.json")


def test_unparsable_constraint(tmp_path):
    campaign = write_campaign(tmp_path, constraints=["memory_mb@raspberry-pi-5 below 4000"])
    completed = run_cli("run", str(campaign), cwd=tmp_path)
    assert_user_error(completed, str(campaign), "field 'constraints'", "below 4000", "METRIC OP NUMBER")
    assert not (tmp_path / "runs").exists()


def test_constraint_on_trained_metric(tmp_path):
    campaign = write_campaign(tmp_path, constraints=["val_bpb <= 3"])
    completed = run_cli("run", str(campaign), cwd=tmp_path)
    assert_user_error(completed, "field 'constraints'", "needs training", "params_total")


def test_objective_function_not_importable(tmp_path):
    campaign = write_campaign(
        tmp_path, search_space=str(ROOT / "search_spaces" / "synthetic_generic.yaml"),
        objective_function="no_such_module:evaluate", objectives=["f1", "f2"],
    )
    completed = run_cli("run", str(campaign), cwd=tmp_path)
    assert_user_error(completed, str(campaign), "field 'objective_function'", "no_such_module", "importable")
    assert not (tmp_path / "runs").exists()


def test_maximize_unknown_objective(tmp_path):
    campaign = write_campaign(tmp_path, maximize=["accuracy"])
    completed = run_cli("run", str(campaign), cwd=tmp_path)
    assert_user_error(completed, "field 'maximize'", "'accuracy' is not an objective", "val_bpb")


def test_generic_space_without_function(tmp_path):
    campaign = write_campaign(tmp_path, search_space=str(ROOT / "search_spaces" / "synthetic_generic.yaml"))
    completed = run_cli("run", str(campaign), cwd=tmp_path)
    assert_user_error(completed, "field 'kind'", "'generic'", "objective_function")
