"""A decoder-only transformer built from an ArchConfig, with compression applied while training."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from shinka.model.arch import ArchConfig, LayerConfig, Projection, embedding_projection, layer_projections
from shinka.model.kv_cache import KVCache, quantize_kv
from shinka.model.quant import QuantLinear, WeightCompression, compress_weight, make_linear


def _build(projection: Projection) -> nn.Module:
    return make_linear(
        projection.in_features,
        projection.out_features,
        bias=projection.bias,
        weight_format=projection.weight_format,
        group_size=projection.group_size,
        rank=projection.rank,
        sparsity=projection.sparsity,
    )


def _norm(arch: ArchConfig) -> nn.Module:
    if arch.norm == "rmsnorm":
        return nn.RMSNorm(arch.d_model, eps=1e-5)
    return nn.LayerNorm(arch.d_model, bias=arch.bias)


def _rotate(x: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
    """Apply rotary position embedding; x: (B, H, T, hd), positions: (T,) absolute indices."""
    half = x.shape[-1] // 2
    frequencies = 10000.0 ** (-torch.arange(half, device=x.device, dtype=torch.float32) / half)  # (hd/2,)
    angles = positions.to(torch.float32)[:, None] * frequencies[None, :]  # (T, hd/2)
    cos, sin = angles.cos().to(x.dtype), angles.sin().to(x.dtype)
    x1, x2 = x[..., :half], x[..., half:]
    return torch.cat([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1)


def sliding_window_mask(length: int, window: int, sinks: int) -> torch.Tensor:
    """Boolean (length, length) mask, True where query i may attend to key j.

    It matches what the windowed KV cache keeps at decode time: key j is visible
    from query i when j <= i and j is one of the first `sinks` tokens or one of
    the last `window - sinks` tokens up to i.
    """
    i = torch.arange(length)[:, None]
    j = torch.arange(length)[None, :]
    return (j <= i) & ((j < sinks) | (j > i - (window - sinks)))


class Attention(nn.Module):
    """Causal self-attention with grouped KV heads (MHA, GQA or MQA)."""

    def __init__(self, arch: ArchConfig, layer: LayerConfig) -> None:
        super().__init__()
        self.n_head, self.n_kv_head, self.head_dim = layer.n_head, layer.n_kv_head, layer.head_dim
        self.rope = arch.positions == "rope"
        self.kv_bits = arch.kv_bits
        projections = {p.name: p for p in layer_projections(arch, layer)}
        self.q_proj = _build(projections["q_proj"])
        self.k_proj = _build(projections["k_proj"])
        self.v_proj = _build(projections["v_proj"])
        self.o_proj = _build(projections["o_proj"])
        self.mask = sliding_window_mask(arch.context_length, arch.kv_window, arch.kv_sinks) if arch.kv_window else None

    def forward(
        self, x: torch.Tensor, positions: torch.Tensor, cache: KVCache | None = None, layer_index: int = 0
    ) -> torch.Tensor:
        B, T, _ = x.shape
        q = self.q_proj(x).view(B, T, self.n_head, self.head_dim).transpose(1, 2)  # (B, H, T, hd)
        k = self.k_proj(x).view(B, T, self.n_kv_head, self.head_dim).transpose(1, 2)  # (B, KVH, T, hd)
        v = self.v_proj(x).view(B, T, self.n_kv_head, self.head_dim).transpose(1, 2)  # (B, KVH, T, hd)
        if self.rope:
            q, k = _rotate(q, positions), _rotate(k, positions)
        if cache is None and self.kv_bits < 16:
            # Training sees the same rounded keys and values the cache stores at inference.
            k = k + (quantize_kv(k, self.kv_bits) - k).detach()
            v = v + (quantize_kv(v, self.kv_bits) - v).detach()
        if cache is not None:
            if cache.length(layer_index) and T > 1:
                raise ValueError("multi-token steps into a non-empty cache are not supported")
            k, v = cache.append(layer_index, k, v)  # (B, KVH, S, hd), S includes the new tokens
        if self.n_kv_head != self.n_head:
            repeat = self.n_head // self.n_kv_head
            k = k.repeat_interleave(repeat, dim=1)  # (B, H, S, hd)
            v = v.repeat_interleave(repeat, dim=1)
        if T == 1:
            # A decode step attends to every cached token; the cache already applied the window.
            y = F.scaled_dot_product_attention(q, k, v)  # (B, H, 1, hd)
        elif self.mask is not None:
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=self.mask[:T, :T])  # (B, H, T, hd)
        else:
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)  # (B, H, T, hd)
        y = y.transpose(1, 2).reshape(B, T, self.n_head * self.head_dim)  # (B, T, H*hd)
        return self.o_proj(y)


class MLP(nn.Module):
    """Feed-forward block: GELU (fc, proj) or SwiGLU (gate, up, down)."""

    def __init__(self, arch: ArchConfig, layer: LayerConfig) -> None:
        super().__init__()
        self.swiglu = arch.mlp == "swiglu"
        projections = {p.name: p for p in layer_projections(arch, layer)}
        if self.swiglu:
            self.gate = _build(projections["gate"])
        self.up = _build(projections["up"])
        self.down = _build(projections["down"])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.swiglu:
            return self.down(F.silu(self.gate(x)) * self.up(x))  # (B, T, d)
        return self.down(F.gelu(self.up(x)))  # (B, T, d)


class Block(nn.Module):
    """Pre-norm transformer block."""

    def __init__(self, arch: ArchConfig, layer: LayerConfig) -> None:
        super().__init__()
        self.norm_attention = _norm(arch)
        self.attention = Attention(arch, layer)
        self.norm_mlp = _norm(arch)
        self.mlp = MLP(arch, layer)

    def forward(self, x: torch.Tensor, positions: torch.Tensor, cache: KVCache | None, index: int) -> torch.Tensor:
        x = x + self.attention(self.norm_attention(x), positions, cache, index)
        return x + self.mlp(self.norm_mlp(x))


class Transformer(nn.Module):
    """Decoder-only language model; `forward` returns logits (B, T, vocab) and, with targets, the loss in nats."""

    def __init__(self, arch: ArchConfig) -> None:
        super().__init__()
        self.arch = arch
        self.token_embedding = nn.Embedding(arch.vocab_size, arch.d_model)
        self.position_embedding = nn.Embedding(arch.context_length, arch.d_model) if arch.positions == "learned" else None
        self.blocks = nn.ModuleList(Block(arch, layer) for layer in arch.layers)
        self.norm_final = _norm(arch)
        embedding = embedding_projection(arch)
        self.embedding_compression = WeightCompression(embedding.weight_format, embedding.group_size, embedding.sparsity)
        self.lm_head = None
        if not arch.tie_embeddings:
            self.lm_head = QuantLinear(
                arch.d_model, arch.vocab_size, False, embedding.weight_format, embedding.group_size, embedding.sparsity
            )
        self.embedding_frozen = False
        self.apply(self._init_weights)

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)

    def _embedding_weight(self) -> torch.Tensor:
        weight = self.token_embedding.weight  # (vocab, d)
        if self.embedding_frozen:
            return weight
        return self.embedding_compression.apply(weight, self.training)

    def forward(
        self,
        idx: torch.Tensor,
        targets: torch.Tensor | None = None,
        cache: KVCache | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        B, T = idx.shape
        # With a sliding window the cache stops growing, so absolute positions come
        # from the cache's count of tokens seen.
        start = cache.seen if cache is not None else 0
        positions = torch.arange(start, start + T, device=idx.device)  # (T,)
        if start + T > self.arch.context_length:
            raise ValueError(f"sequence of {start + T} tokens exceeds context_length {self.arch.context_length}")
        embedding = self._embedding_weight()
        x = F.embedding(idx, embedding)  # (B, T, d)
        if self.position_embedding is not None:
            x = x + self.position_embedding(positions)
        for index, block in enumerate(self.blocks):
            x = block(x, positions, cache, index)
        if cache is not None:
            cache.seen = start + T
        x = self.norm_final(x)
        logits = self.lm_head(x) if self.lm_head is not None else F.linear(x, embedding)  # (B, T, vocab)
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))
        return logits, loss

    def new_cache(self) -> KVCache:
        return KVCache(self.arch.n_layer, self.arch.kv_bits, self.arch.kv_window, self.arch.kv_sinks)

    @torch.no_grad()
    def freeze(self) -> "Transformer":
        """Quantize every weight once, in place, for inference and latency measurement."""
        for module in self.modules():
            if isinstance(module, QuantLinear):
                module.freeze()
        if not self.embedding_frozen:
            weight = self.token_embedding.weight
            compression = self.embedding_compression
            weight.copy_(compress_weight(weight, compression.weight_format, compression.group_size, compression.sparsity))
            self.embedding_frozen = True
        return self

    @torch.no_grad()
    def generate(self, idx: torch.Tensor, new_tokens: int) -> torch.Tensor:
        """Greedy decoding with the KV cache; idx: (B, T) -> (B, T + new_tokens)."""
        cache = self.new_cache()
        logits, _ = self(idx, cache=cache)
        out = [idx]
        for _ in range(new_tokens):
            next_token = logits[:, -1].argmax(dim=-1, keepdim=True)  # (B, 1)
            out.append(next_token)
            logits, _ = self(next_token, cache=cache)
        return torch.cat(out, dim=1)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def bits_per_byte(loss_nats: float) -> float:
    """Convert a mean cross-entropy over byte tokens, in nats, to bits per byte."""
    return loss_nats / math.log(2)
