"""`shinka space validate|describe|sample` as a user runs them: exit codes, one-line errors, output."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from shinka.space import Genome, load_search_space

ROOT = Path(__file__).resolve().parents[1]
SHINKA = str(ROOT / ".venv" / "bin" / "shinka")
TINY = (ROOT / "search_spaces" / "tiny.yaml").read_text()


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([SHINKA, *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def write(folder: Path, text: str, name: str = "space.yaml") -> Path:
    path = folder / name
    path.write_text(text)
    return path


def assert_one_line_error(completed: subprocess.CompletedProcess, *fragments: str) -> None:
    assert completed.returncode == 2, completed.stderr
    lines = completed.stderr.strip().splitlines()
    assert len(lines) == 1, completed.stderr
    assert "Traceback" not in completed.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def test_validate_shipped_spaces(tmp_path):
    for name in ("tiny.yaml", "compressed.yaml"):
        completed = run("space", "validate", str(ROOT / "search_spaces" / name), cwd=tmp_path)
        assert completed.returncode == 0, completed.stderr
        assert "valid transformer search space" in completed.stdout


def test_validate_dead_value(tmp_path):
    path = write(tmp_path, TINY.replace("n_kv_head: [1, 2, 4]", "n_kv_head: [1, 2, 3, 4]"))
    completed = run("space", "validate", str(path), cwd=tmp_path)
    assert_one_line_error(completed, str(path), "genes.n_kv_head", "got 3", "allowed: 1, 2, 4", "n_head % n_kv_head")


def test_validate_no_valid_genome(tmp_path):
    text = TINY.replace("n_head: [1, 2, 4]", "n_head: [5]").replace("n_kv_head: [1, 2, 4]", "n_kv_head: [1, 5]")
    path = write(tmp_path, text)
    completed = run("space", "validate", str(path), cwd=tmp_path)
    assert_one_line_error(completed, str(path), "constraints[0]", "d_model % n_head == 0", "'n_head': [5]", "allowed:")


def test_validate_structural_rule_names_gene(tmp_path):
    text = TINY.replace("fixed:\n", "fixed:\n  kv_window: 128\n")
    path = write(tmp_path, text)
    completed = run("space", "validate", str(path), cwd=tmp_path)
    assert_one_line_error(completed, str(path), "kv_window within context_length", "'kv_window': 128")


def test_validate_malformed_yaml(tmp_path):
    path = write(tmp_path, TINY + "  broken: [1, 2\n")
    completed = run("space", "validate", str(path), cwd=tmp_path)
    assert_one_line_error(completed, str(path), "invalid YAML")


def test_validate_unquoted_pattern(tmp_path):
    text = TINY.replace("genes:\n", "genes:\n  sparsity_mlp: [0.0, 2:4]\n")
    path = write(tmp_path, text)
    completed = run("space", "validate", str(path), cwd=tmp_path)
    assert_one_line_error(completed, str(path), "genes.sparsity_mlp", "got 124", "quoted 'N:M'")


def test_validate_unknown_gene(tmp_path):
    path = write(tmp_path, TINY.replace("genes:\n", "genes:\n  n_experts: [1, 2]\n"))
    completed = run("space", "validate", str(path), cwd=tmp_path)
    assert_one_line_error(completed, str(path), "genes.n_experts", "allowed:", "sparsity_mlp")


def test_describe_exact_count(tmp_path):
    path = ROOT / "search_spaces" / "tiny.yaml"
    completed = run("space", "describe", str(path), cwd=tmp_path)
    expected = len(load_search_space(path).enumerate_valid())
    assert completed.returncode == 0, completed.stderr
    assert f"distinct genomes: {expected} valid of 5184 combinations" in completed.stdout


def test_describe_huge_space(tmp_path):
    completed = run("space", "describe", str(ROOT / "search_spaces" / "compressed.yaml"), cwd=tmp_path)
    assert completed.returncode == 0, completed.stderr
    assert "distinct genomes: " in completed.stdout
    assert "distinct architectures: " in completed.stdout
    assert "per layer (4)" in completed.stdout


def test_sample_valid_genomes(tmp_path):
    path = ROOT / "search_spaces" / "compressed.yaml"
    completed = run("space", "sample", str(path), "-n", "4", "--seed", "7", cwd=tmp_path)
    assert completed.returncode == 0, completed.stderr
    items = yaml.safe_load(completed.stdout)
    space = load_search_space(path)
    assert len(items) == 4
    for item in items:
        assert space.is_valid(item["genes"]), item
        assert Genome(item["genes"]).id == item["id"]
        assert item["fixed"] == space.fixed


def test_sample_rejects_bad_count(tmp_path):
    completed = run("space", "sample", str(ROOT / "search_spaces" / "tiny.yaml"), "-n", "0", cwd=tmp_path)
    assert_one_line_error(completed, "-n", "allowed:")
