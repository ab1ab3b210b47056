"""The KV cache in token-by-token generation keeps the genome's bit width, window and sinks."""

from __future__ import annotations

import pytest
import torch

from shinka.model.arch import arch_from_values
from shinka.model.kv_cache import KVCache
from shinka.model.transformer import Transformer

BASE = {"vocab_size": 64, "context_length": 48, "n_layer": 2, "d_model": 32, "n_head": 4, "n_kv_head": 2}


def decode(model: Transformer, prompt: torch.Tensor, new_tokens: int) -> tuple[KVCache, list[torch.Tensor]]:
    """Greedy decoding as Transformer.generate does it; return the cache and the logits of each step."""
    cache = model.new_cache()
    logits, _ = model(prompt, cache=cache)
    steps = [logits[:, -1]]
    for _ in range(new_tokens):
        token = logits[:, -1].argmax(dim=-1, keepdim=True)  # (B, 1)
        logits, _ = model(token, cache=cache)
        steps.append(logits[:, -1])
    return cache, steps


@pytest.mark.parametrize("bits", [8, 4])
def test_cache_levels_per_token_head(bits):
    torch.manual_seed(0)
    model = Transformer(arch_from_values({**BASE, "kv_bits": bits})).eval()
    cache, _ = decode(model, torch.randint(0, 64, (2, 5)), 12)
    for stored in cache.keys + cache.values:
        levels = stored.reshape(-1, stored.shape[-1])  # one row per (batch, head, token)
        distinct = max(len(torch.unique(row)) for row in levels)
        assert distinct <= 2**bits - 1


def test_cache_window_and_sinks():
    torch.manual_seed(0)
    model = Transformer(arch_from_values({**BASE, "kv_window": 8, "kv_sinks": 2})).eval()
    prompt = torch.randint(0, 64, (1, 4))
    cache = model.new_cache()
    logits, _ = model(prompt, cache=cache)
    sinks = [keys[:, :, :2].clone() for keys in cache.keys]
    for _ in range(20):
        logits, _ = model(logits[:, -1].argmax(dim=-1, keepdim=True), cache=cache)
        assert cache.length(0) <= 8
    assert cache.seen == 24
    assert cache.length(1) == 8
    for layer, kept in enumerate(sinks):
        assert torch.equal(cache.keys[layer][:, :, :2], kept)


@pytest.mark.parametrize("genes", [{}, {"kv_window": 6, "kv_sinks": 1}, {"kv_bits": 8, "positions": "rope"}])
def test_decode_matches_full_forward(genes):
    torch.manual_seed(0)
    model = Transformer(arch_from_values({**BASE, **genes})).eval()
    sequence = model.generate(torch.randint(0, 64, (2, 3)), 15)  # (2, 18)
    full, _ = model(sequence)
    _, steps = decode(model, sequence[:, :3], 14)
    stepped = torch.stack(steps, dim=1)  # (2, 15, vocab)
    assert torch.allclose(full[:, 2:17], stepped, atol=1e-4)
