"""Published figures: parameter counts, KV cache and Kaplan et al. FLOPs of reference genomes."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from shinka.cost.counts import flops_per_token_prefill, kv_cache_bytes_per_token, parameter_counts
from shinka.model.arch import arch_from_values

REFERENCE = Path(__file__).resolve().parents[1] / "search_spaces" / "reference"


def reference_arch(name: str):
    return arch_from_values(yaml.safe_load((REFERENCE / name).read_text())["genes"])


@pytest.mark.parametrize(
    "name, params",
    [("gpt2-small.yaml", 124_439_808), ("gpt2-medium.yaml", 354_823_168), ("llama-2-7b.yaml", 6_738_415_616)],
)
def test_reference_parameter_count(name, params):
    assert parameter_counts(reference_arch(name))["params_total"] == params


def test_llama_kv_cache_per_token():
    assert kv_cache_bytes_per_token(reference_arch("llama-2-7b.yaml")) == 524_288


@pytest.mark.parametrize("name", ["gpt2-small.yaml", "gpt2-medium.yaml"])
def test_kaplan_forward_flops(name):
    # Kaplan et al. 2020, table 1: C_forward = 2N + 2 n_layer n_ctx d_model per token,
    # N the non-embedding parameters, without the output head.
    arch = reference_arch(name)
    n_ctx = 1024
    flops = flops_per_token_prefill(arch, n_ctx)
    ours = flops["matmul"] + flops["attention"]
    kaplan = 2 * parameter_counts(arch)["params_non_embedding"] + 2 * arch.n_layer * n_ctx * arch.d_model
    assert abs(ours - kaplan) / kaplan < 0.01
