"""Exact counts from an architecture: parameters, FLOPs, bytes and memory (pure Python, no torch)."""

from shinka.cost.counts import (
    Operator,
    activation_bytes_peak,
    decode_operators,
    flops_per_token_decode,
    flops_per_token_prefill,
    kv_cache_bytes_per_token,
    parameter_counts,
    prefill_operators,
    summarize,
    weight_bytes,
)

__all__ = [
    "Operator",
    "activation_bytes_peak",
    "decode_operators",
    "flops_per_token_decode",
    "flops_per_token_prefill",
    "kv_cache_bytes_per_token",
    "parameter_counts",
    "prefill_operators",
    "summarize",
    "weight_bytes",
]
