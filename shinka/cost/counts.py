"""Parameter, FLOP, byte and memory counts of an ArchConfig.

Conventions:
- A FLOP is one multiply or one add, so a (m x k) @ (k x n) product costs 2mkn.
- FLOPs count matrix products and attention only; norms, activations, softmax
  and residual adds are left out (under 1% for the models searched here).
- "Non-embedding" parameters exclude the token embedding, learned positions and
  an untied output head, as in Kaplan et al. 2020 ("Scaling Laws for Neural
  Language Models", section 2.1).
- Weight bytes are what a deployment stores: codes at the layer's format plus
  16-bit scales; biases and norm weights are stored at 16 bits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shinka.model.arch import WEIGHT_BITS, ArchConfig, LayerConfig, low_rank

SCALE_BYTES = 2  # one fp16 scale
ACTIVATION_BYTES = 2  # activations at 16 bits in deployment


@dataclass(frozen=True)
class Linear:
    """One projection as deployed: dense, or two factors when low rank."""

    name: str
    in_features: int
    out_features: int
    bias: bool
    weight_format: str
    rank: int | None

    def matrices(self) -> list[tuple[int, int]]:
        """Return (out, in) of each weight matrix: one when dense, two factors when low rank."""
        if self.rank is None:
            return [(self.out_features, self.in_features)]
        return [(self.rank, self.in_features), (self.out_features, self.rank)]

    def parameters(self) -> int:
        weights = sum(o * i for o, i in self.matrices())
        return weights + (self.out_features if self.bias else 0)

    def matmul_flops_per_token(self) -> int:
        return sum(2 * o * i for o, i in self.matrices())


@dataclass(frozen=True)
class Operator:
    """One operator of a forward pass, for a roofline estimate.

    flops: FLOPs; weight_bytes: weights read; activation_bytes: inputs read and
    outputs written; kv_bytes: KV cache read and written; weight_format: the
    format its arithmetic runs at ("fp16" for attention and norms).
    """

    name: str
    flops: float
    weight_bytes: float
    activation_bytes: float
    kv_bytes: float
    weight_format: str
    weights: int = 0  # weights to dequantize when the device has no native support for the format


def layer_linears(arch: ArchConfig, layer: LayerConfig) -> list[Linear]:
    d = arch.d_model
    q_out, kv_out = layer.n_head * layer.head_dim, layer.n_kv_head * layer.head_dim
    fa, ra = layer.weight_format_attention, layer.rank_ratio_attention
    fm, rm = layer.weight_format_mlp, layer.rank_ratio_mlp
    linears = [
        Linear("q_proj", d, q_out, arch.qkv_bias, fa, low_rank(d, q_out, ra)),
        Linear("k_proj", d, kv_out, arch.qkv_bias, fa, low_rank(d, kv_out, ra)),
        Linear("v_proj", d, kv_out, arch.qkv_bias, fa, low_rank(d, kv_out, ra)),
        Linear("o_proj", q_out, d, arch.bias, fa, low_rank(q_out, d, ra)),
    ]
    f = layer.ffn_dim
    if arch.mlp == "swiglu":
        linears.append(Linear("gate", d, f, arch.bias, fm, low_rank(d, f, rm)))
    linears.append(Linear("up", d, f, arch.bias, fm, low_rank(d, f, rm)))
    linears.append(Linear("down", f, d, arch.bias, fm, low_rank(f, d, rm)))
    return linears


def _norm_parameters(arch: ArchConfig) -> int:
    if arch.norm == "rmsnorm":
        return arch.d_model
    return arch.d_model * (2 if arch.bias else 1)


def parameter_counts(arch: ArchConfig) -> dict[str, int]:
    """Return total, embedding and non-embedding parameter counts (exact, as the torch model has them)."""
    d, vocab = arch.d_model, arch.vocab_size
    embedding = vocab * d
    if arch.positions == "learned":
        embedding += arch.context_length * d
    if not arch.tie_embeddings:
        embedding += d * vocab
    blocks = 0
    for layer in arch.layers:
        blocks += sum(linear.parameters() for linear in layer_linears(arch, layer))
        blocks += 2 * _norm_parameters(arch)
    non_embedding = blocks + _norm_parameters(arch)
    return {
        "params_total": embedding + non_embedding,
        "params_embedding": embedding,
        "params_non_embedding": non_embedding,
    }


def matrix_bytes(out_features: int, in_features: int, weight_format: str, group_size: int) -> float:
    """Return the bytes of one stored weight matrix: codes plus scales."""
    codes = out_features * in_features * WEIGHT_BITS[weight_format] / 8
    if weight_format == "fp16":
        return codes
    if weight_format == "ternary":
        return codes + SCALE_BYTES  # one absmean scale per matrix
    if group_size and in_features % group_size == 0 and group_size < in_features:
        return codes + out_features * (in_features // group_size) * SCALE_BYTES
    return codes + out_features * SCALE_BYTES  # one scale per output channel


def linear_weight_bytes(linear: Linear, group_size: int) -> float:
    total = sum(matrix_bytes(o, i, linear.weight_format, group_size) for o, i in linear.matrices())
    return total + (linear.out_features * 2 if linear.bias else 0)


def weight_bytes(arch: ArchConfig) -> float:
    """Return the bytes of every stored weight at its layer's format, scales included."""
    d = arch.d_model
    total = matrix_bytes(arch.vocab_size, d, arch.weight_format_embedding, arch.group_size)
    if arch.positions == "learned":
        total += arch.context_length * d * 2
    if not arch.tie_embeddings:
        total += matrix_bytes(arch.vocab_size, d, arch.weight_format_embedding, arch.group_size)
    for layer in arch.layers:
        total += sum(linear_weight_bytes(linear, arch.group_size) for linear in layer_linears(arch, layer))
        total += 2 * _norm_parameters(arch) * 2
    return total + _norm_parameters(arch) * 2


def kv_cache_bytes_per_token(arch: ArchConfig) -> float:
    """Return the KV-cache bytes one token adds, over all layers (scales included below 16 bits)."""
    total = 0.0
    for layer in arch.layers:
        values = 2 * layer.n_kv_head * layer.head_dim  # keys and values
        total += values * arch.kv_bits / 8
        if arch.kv_bits < 16:
            total += 2 * layer.n_kv_head * SCALE_BYTES  # one scale per (token, head) for K and for V
    return total


def cached_tokens(arch: ArchConfig, context: int) -> int:
    """Return how many tokens the KV cache holds at `context` tokens (the window caps it)."""
    return min(context, arch.kv_window) if arch.kv_window else context


def _attention_flops(layer: LayerConfig, attended: float) -> float:
    # Scores (q . k) and the weighted sum of values: 2 * 2 * H * hd per attended key.
    return 4 * layer.n_head * layer.head_dim * attended


def flops_per_token_prefill(arch: ArchConfig, context: int | None = None) -> dict[str, float]:
    """Return forward FLOPs per token of a prefill of `context` tokens, averaged over positions.

    Keys: matmul (block projections), attention, lm_head, total. With a causal
    mask, position t attends to min(t + 1, window) keys.
    """
    context = context or arch.context_length
    matmul = sum(
        linear.matmul_flops_per_token() for layer in arch.layers for linear in layer_linears(arch, layer)
    )
    mean_attended = sum(cached_tokens(arch, t + 1) for t in range(context)) / context
    attention = sum(_attention_flops(layer, mean_attended) for layer in arch.layers)
    lm_head = 2 * arch.d_model * arch.vocab_size
    return {"matmul": matmul, "attention": attention, "lm_head": lm_head, "total": matmul + attention + lm_head}


def flops_per_token_decode(arch: ArchConfig, position: int | None = None) -> dict[str, float]:
    """Return forward FLOPs of decoding one token at `position` (tokens already in context)."""
    position = arch.context_length - 1 if position is None else position
    matmul = sum(
        linear.matmul_flops_per_token() for layer in arch.layers for linear in layer_linears(arch, layer)
    )
    attended = cached_tokens(arch, position + 1)
    attention = sum(_attention_flops(layer, attended) for layer in arch.layers)
    lm_head = 2 * arch.d_model * arch.vocab_size
    return {"matmul": matmul, "attention": attention, "lm_head": lm_head, "total": matmul + attention + lm_head}


def activation_bytes_peak(arch: ArchConfig, batch: int, context: int) -> float:
    """Estimate the peak activation bytes of an inference prefill of (batch, context).

    Counts the residual stream, the widest intermediate of a block and one
    layer's attention scores (no fused attention kernel assumed), at 16 bits,
    plus fp32 logits of the last position.
    """
    widest = 0
    scores = 0
    for layer in arch.layers:
        mlp_width = layer.ffn_dim * (2 if arch.mlp == "swiglu" else 1)
        qkv_width = (layer.n_head + 2 * layer.n_kv_head) * layer.head_dim
        widest = max(widest, mlp_width, qkv_width)
        scores = max(scores, layer.n_head * context * cached_tokens(arch, context))
    tokens = batch * context
    return (tokens * (2 * arch.d_model + widest) + batch * scores) * ACTIVATION_BYTES + batch * arch.vocab_size * 4


def _linear_operators(arch: ArchConfig, tokens: int, prefix: str) -> list[Operator]:
    ops = []
    for index, layer in enumerate(arch.layers):
        for linear in layer_linears(arch, layer):
            weights = sum(o * i for o, i in linear.matrices())
            ops.append(
                Operator(
                    name=f"{prefix}layer{index}.{linear.name}",
                    flops=tokens * linear.matmul_flops_per_token(),
                    weight_bytes=linear_weight_bytes(linear, arch.group_size),
                    activation_bytes=tokens * (linear.in_features + linear.out_features) * ACTIVATION_BYTES,
                    kv_bytes=0.0,
                    weight_format=linear.weight_format,
                    weights=weights,
                )
            )
    return ops


def decode_operators(arch: ArchConfig, batch: int = 1, context: int | None = None) -> list[Operator]:
    """List the operators of one decode step of `batch` sequences at `context` tokens."""
    context = context or arch.context_length
    attended = cached_tokens(arch, context)
    ops = _linear_operators(arch, batch, "decode.")
    per_token_kv = kv_cache_bytes_per_token(arch) / max(arch.n_layer, 1)
    for index, layer in enumerate(arch.layers):
        ops.append(
            Operator(
                name=f"decode.layer{index}.attention",
                flops=batch * _attention_flops(layer, attended),
                weight_bytes=0.0,
                activation_bytes=batch * 2 * layer.n_head * layer.head_dim * ACTIVATION_BYTES,
                kv_bytes=batch * per_token_kv * (attended + 1),  # read the cache, write the new token
                weight_format="fp16",
            )
        )
    ops.append(_lm_head_operator(arch, batch, "decode."))
    return ops


def prefill_operators(arch: ArchConfig, batch: int = 1, context: int | None = None) -> list[Operator]:
    """List the operators of a prefill of `batch` prompts of `context` tokens."""
    context = context or arch.context_length
    tokens = batch * context
    ops = _linear_operators(arch, tokens, "prefill.")
    per_token_kv = kv_cache_bytes_per_token(arch) / max(arch.n_layer, 1)
    mean_attended = sum(cached_tokens(arch, t + 1) for t in range(context)) / context
    for index, layer in enumerate(arch.layers):
        ops.append(
            Operator(
                name=f"prefill.layer{index}.attention",
                flops=tokens * _attention_flops(layer, mean_attended),
                weight_bytes=0.0,
                activation_bytes=tokens * 2 * layer.n_head * layer.head_dim * ACTIVATION_BYTES,
                kv_bytes=batch * per_token_kv * cached_tokens(arch, context),
                weight_format="fp16",
            )
        )
    ops.append(_lm_head_operator(arch, batch, "prefill."))  # logits of the last position only
    return ops


def _lm_head_operator(arch: ArchConfig, batch: int, prefix: str) -> Operator:
    return Operator(
        name=f"{prefix}lm_head",
        flops=batch * 2 * arch.d_model * arch.vocab_size,
        weight_bytes=matrix_bytes(arch.vocab_size, arch.d_model, arch.weight_format_embedding, arch.group_size),
        activation_bytes=batch * (arch.d_model * ACTIVATION_BYTES + arch.vocab_size * 4),
        kv_bytes=0.0,
        weight_format=arch.weight_format_embedding,
        weights=arch.vocab_size * arch.d_model,
    )


def summarize(arch: ArchConfig, batch: int = 1, context: int | None = None) -> dict[str, Any]:
    """Return every count of the cost model as a flat dict with snake_case keys."""
    context = context or arch.context_length
    params = parameter_counts(arch)
    prefill = flops_per_token_prefill(arch, context)
    decode = flops_per_token_decode(arch, context - 1)
    kv_per_token = kv_cache_bytes_per_token(arch)
    weights = weight_bytes(arch)
    kv_total = batch * cached_tokens(arch, context) * kv_per_token
    activations = activation_bytes_peak(arch, batch, context)
    return {
        **params,
        "flops_per_token_prefill": prefill["total"],
        "flops_per_token_prefill_matmul": prefill["matmul"],
        "flops_per_token_prefill_attention": prefill["attention"],
        "flops_per_token_prefill_lm_head": prefill["lm_head"],
        "flops_per_token_decode": decode["total"],
        "flops_per_token_decode_matmul": decode["matmul"],
        "flops_per_token_decode_attention": decode["attention"],
        "flops_per_token_decode_lm_head": decode["lm_head"],
        "weight_bytes": weights,
        "kv_cache_bytes_per_token": kv_per_token,
        "kv_cache_bytes": kv_total,
        "activation_bytes_peak": activations,
        "memory_bytes": weights + kv_total + activations,
        "batch": batch,
        "context": context,
    }
