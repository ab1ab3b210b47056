"""Parameter, FLOP, byte and memory counts of an ArchConfig.

Conventions:
- A FLOP is one multiply or one add, so a (m x k) @ (k x n) product costs 2mkn.
- FLOPs count matrix products and attention only; norms, activations, softmax
  and residual adds are left out (under 1% for the models searched here).
  Matmul FLOPs are dense: pruned weights are counted, as on hardware without
  sparse kernels; `matmul_kept` counts only the weights a sparsity mask keeps.
- "Non-embedding" parameters exclude the token embedding, learned positions and
  an untied output head, as in Kaplan et al. 2020 ("Scaling Laws for Neural
  Language Models", section 2.1).
- Parameters are the trainable values the torch model holds: a pruned weight
  is still a parameter. `params_kept` counts what remains after pruning.
- Weight bytes are what a deployment stores, exactly as shinka.packing writes
  them (see shinka.cost.storage).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shinka.cost.storage import norm_parameters, projection_bytes, weight_bytes, weight_bytes_by_part
from shinka.model.arch import ArchConfig, LayerConfig, Projection, embedding_projection, layer_projections
from shinka.model.formats import SCALE_BYTES

ACTIVATION_BYTES = 2  # activations at 16 bits in deployment

__all__ = [
    "Operator", "activation_bytes_peak", "cached_tokens", "decode_operators", "flops_per_token_decode",
    "flops_per_token_prefill", "kv_cache_bytes_per_token", "parameter_counts", "prefill_operators",
    "summarize", "weight_bytes", "weight_bytes_by_part",
]


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


def _all_projections(arch: ArchConfig) -> list[Projection]:
    return [p for layer in arch.layers for p in layer_projections(arch, layer)]


def parameter_counts(arch: ArchConfig) -> dict[str, int]:
    """Return total, embedding, non-embedding and kept parameter counts (exact, as the torch model has them).

    params_kept counts every parameter except the weights a sparsity mask prunes.
    """
    d, vocab = arch.d_model, arch.vocab_size
    embedding_matrix = embedding_projection(arch)
    heads = 1 if arch.tie_embeddings else 2
    embedding = heads * vocab * d
    embedding_kept = heads * embedding_matrix.kept_weights()
    if arch.positions == "learned":
        embedding += arch.context_length * d
        embedding_kept += arch.context_length * d
    projections = _all_projections(arch)
    norms = norm_parameters(arch) * (2 * arch.n_layer + 1)
    non_embedding = sum(p.parameters() for p in projections) + norms
    pruned = sum(p.parameters() - p.kept_weights() - (p.out_features if p.bias else 0) for p in projections)
    return {
        "params_total": embedding + non_embedding,
        "params_embedding": embedding,
        "params_non_embedding": non_embedding,
        "params_kept": embedding_kept + non_embedding - pruned,
    }


def layer_kv_bytes_per_token(arch: ArchConfig, layer: LayerConfig) -> float:
    """Return the KV-cache bytes one token adds to one layer (fp16 scales included below 16 bits)."""
    total = 2 * layer.n_kv_head * layer.head_dim * arch.kv_bits / 8  # keys and values
    if arch.kv_bits < 16:
        total += 2 * layer.n_kv_head * SCALE_BYTES  # one scale per (token, head) for K and for V
    return total


def kv_cache_bytes_per_token(arch: ArchConfig) -> float:
    """Return the KV-cache bytes one token adds, over all layers (scales included below 16 bits)."""
    return sum(layer_kv_bytes_per_token(arch, layer) for layer in arch.layers)


def cached_tokens(arch: ArchConfig, context: int) -> int:
    """Return how many tokens the KV cache holds at `context` tokens (the window caps it)."""
    return min(context, arch.kv_window) if arch.kv_window else context


def _matmul_flops(arch: ArchConfig) -> int:
    return sum(p.matmul_flops_per_token() for p in _all_projections(arch))


def _matmul_kept_flops(arch: ArchConfig) -> int:
    return sum(2 * p.kept_weights() for p in _all_projections(arch))


def _attention_flops(layer: LayerConfig, attended: float) -> float:
    # Scores (q . k) and the weighted sum of values: 2 * 2 * H * hd per attended key.
    return 4 * layer.n_head * layer.head_dim * attended


def flops_per_token_prefill(arch: ArchConfig, context: int | None = None) -> dict[str, float]:
    """Return forward FLOPs per token of a prefill of `context` tokens, averaged over positions.

    Keys: matmul (block projections), attention, lm_head, total. With a causal
    mask, position t attends to min(t + 1, window) keys.
    """
    context = context or arch.context_length
    matmul = _matmul_flops(arch)
    mean_attended = sum(cached_tokens(arch, t + 1) for t in range(context)) / context
    attention = sum(_attention_flops(layer, mean_attended) for layer in arch.layers)
    lm_head = 2 * arch.d_model * arch.vocab_size
    return {
        "matmul": matmul, "matmul_kept": _matmul_kept_flops(arch), "attention": attention,
        "lm_head": lm_head, "total": matmul + attention + lm_head,
    }


def flops_per_token_decode(arch: ArchConfig, position: int | None = None) -> dict[str, float]:
    """Return forward FLOPs of decoding one token at `position` (tokens already in context)."""
    position = arch.context_length - 1 if position is None else position
    matmul = _matmul_flops(arch)
    attended = cached_tokens(arch, position + 1)
    attention = sum(_attention_flops(layer, attended) for layer in arch.layers)
    lm_head = 2 * arch.d_model * arch.vocab_size
    return {
        "matmul": matmul, "matmul_kept": _matmul_kept_flops(arch), "attention": attention,
        "lm_head": lm_head, "total": matmul + attention + lm_head,
    }


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
        for projection in layer_projections(arch, layer):
            weights = sum(o * i for o, i in projection.matrices())
            ops.append(
                Operator(
                    name=f"{prefix}layer{index}.{projection.name}",
                    flops=tokens * projection.matmul_flops_per_token(),
                    weight_bytes=projection_bytes(projection),
                    activation_bytes=tokens * (projection.in_features + projection.out_features) * ACTIVATION_BYTES,
                    kv_bytes=0.0,
                    weight_format=projection.weight_format,
                    weights=weights,
                )
            )
    return ops


def decode_operators(arch: ArchConfig, batch: int = 1, context: int | None = None) -> list[Operator]:
    """List the operators of one decode step of `batch` sequences at `context` tokens."""
    context = context or arch.context_length
    attended = cached_tokens(arch, context)
    ops = _linear_operators(arch, batch, "decode.")
    for index, layer in enumerate(arch.layers):
        per_token_kv = layer_kv_bytes_per_token(arch, layer)
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
    mean_attended = sum(cached_tokens(arch, t + 1) for t in range(context)) / context
    for index, layer in enumerate(arch.layers):
        per_token_kv = layer_kv_bytes_per_token(arch, layer)
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
        weight_bytes=projection_bytes(embedding_projection(arch)),
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
        "flops_per_token_matmul_kept": prefill["matmul_kept"],
        "weight_bytes": weights,
        **{f"weight_bytes_{part}": value for part, value in weight_bytes_by_part(arch).items()},
        "bits_per_parameter": 8 * weights / params["params_total"],
        "kv_cache_bytes_per_token": kv_per_token,
        "kv_cache_bytes": kv_total,
        "activation_bytes_peak": activations,
        "memory_bytes": weights + kv_total + activations,
        "batch": batch,
        "context": context,
    }
