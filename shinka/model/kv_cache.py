"""KV cache for token-by-token generation, quantized and windowed as the genome says."""

from __future__ import annotations

import torch

_EPS = 1e-8


def quantize_kv(x: torch.Tensor, bits: int) -> torch.Tensor:
    """Round keys or values to `bits`-bit symmetric integers with one scale per (token, head).

    x: (B, KVH, T, hd). 16 bits keeps the tensor as it is (half-precision storage
    is not simulated in the proxy).
    """
    if bits >= 16:
        return x
    qmax = 2 ** (bits - 1) - 1
    scale = x.abs().amax(dim=-1, keepdim=True).clamp(min=_EPS) / qmax  # (B, KVH, T, 1)
    return (x / scale).round().clamp(-qmax, qmax) * scale


class KVCache:
    """Per-layer cached keys and values.

    Keys and values are stored already rounded to `bits`. With `window` > 0 the
    cache keeps at most `window` tokens: the first `sinks` tokens of the sequence
    (attention sinks) plus the most recent `window - sinks` tokens.
    """

    def __init__(self, n_layer: int, bits: int = 16, window: int = 0, sinks: int = 0) -> None:
        self.bits = bits
        self.window = window
        self.sinks = sinks
        self.keys: list[torch.Tensor | None] = [None] * n_layer
        self.values: list[torch.Tensor | None] = [None] * n_layer
        self.seen = 0  # tokens processed so far, including those the window dropped

    def append(self, layer: int, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Add new keys and values, (B, KVH, T_new, hd), rounded to the cache's bits.

        Returns the keys and values the new tokens attend to. A decode step (one
        new token) gets what the cache keeps after the window is applied; a
        multi-token prefill gets every token and applies the window through its
        attention mask instead.
        """
        k = quantize_kv(k, self.bits)
        v = quantize_kv(v, self.bits)
        cached_k, cached_v = self.keys[layer], self.values[layer]
        if cached_k is not None:
            k = torch.cat([cached_k, k], dim=2)  # (B, KVH, S + T_new, hd)
            v = torch.cat([cached_v, v], dim=2)
        stored_k, stored_v = k, v
        if self.window and k.shape[2] > self.window:
            recent = self.window - self.sinks
            stored_k = torch.cat([k[:, :, : self.sinks], k[:, :, k.shape[2] - recent :]], dim=2)  # (B, KVH, window, hd)
            stored_v = torch.cat([v[:, :, : self.sinks], v[:, :, v.shape[2] - recent :]], dim=2)
        self.keys[layer], self.values[layer] = stored_k, stored_v
        if k.shape[2] - (0 if cached_k is None else cached_k.shape[2]) == 1:
            return stored_k, stored_v
        return k, v

    def length(self, layer: int = 0) -> int:
        """Return the number of tokens stored for `layer` (at most `window` when a window is set)."""
        stored = self.keys[layer]
        return 0 if stored is None else stored.shape[2]
