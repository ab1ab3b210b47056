"""ArchConfig: the transformer a genome describes, and the gene names a transformer space may use.

The mapping from genes to architecture lives here only, so the model, the cost
model and the hardware estimates all read the same numbers.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Mapping

from shinka.errors import UserError

WEIGHT_FORMATS = ("fp16", "int8", "int4", "ternary")
# Bits per stored weight, before scales and sparsity indices.
WEIGHT_BITS = {"fp16": 16.0, "int8": 8.0, "int4": 4.0, "ternary": 2.0}
KV_BITS = (16, 8, 4)
MLP_KINDS = ("gelu", "swiglu")
NORM_KINDS = ("layernorm", "rmsnorm")
POSITION_KINDS = ("learned", "rope")


@dataclass(frozen=True)
class LayerConfig:
    """One transformer block: attention plus MLP, with its compression settings."""

    n_head: int
    n_kv_head: int
    head_dim: int
    ffn_dim: int
    weight_format_attention: str = "fp16"
    weight_format_mlp: str = "fp16"
    rank_ratio_attention: float = 1.0  # share of min(in, out) kept by low-rank factors; 1.0 is dense
    rank_ratio_mlp: float = 1.0


@dataclass(frozen=True)
class ArchConfig:
    """A decoder-only transformer with compression, as built by shinka.model.transformer."""

    vocab_size: int
    context_length: int  # tokens
    d_model: int
    layers: tuple[LayerConfig, ...]
    mlp: str = "gelu"
    norm: str = "layernorm"
    positions: str = "learned"
    tie_embeddings: bool = True
    bias: bool = True
    qkv_bias: bool = True
    weight_format_embedding: str = "fp16"
    group_size: int = 0  # input channels per quantization scale; 0 is one scale per output channel
    kv_bits: int = 16
    kv_window: int = 0  # cached tokens kept in decode; 0 keeps the whole context
    kv_sinks: int = 0  # initial tokens always kept when the window slides
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def n_layer(self) -> int:
        return len(self.layers)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["layers"] = [asdict(layer) for layer in self.layers]
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "ArchConfig":
        values = dict(data)
        values["layers"] = tuple(LayerConfig(**layer) for layer in values["layers"])
        return cls(**values)


# Gene (or fixed value) names a transformer search space may use, with defaults.
# A gene named here overrides the default; any other name is rejected at load time.
DEFAULTS: dict[str, Any] = {
    "vocab_size": 256,
    "context_length": 64,
    "n_layer": 2,
    "d_model": 64,
    "n_head": 2,
    "n_kv_head": None,  # None: same as n_head (multi-head attention)
    "head_dim": None,  # None: d_model // n_head
    "ffn_mult": 4.0,
    "ffn_dim": None,  # None: round(ffn_mult * d_model)
    "mlp": "gelu",
    "norm": "layernorm",
    "positions": "learned",
    "tie_embeddings": True,
    "bias": True,
    "qkv_bias": None,  # None: same as bias
    "weight_format": "fp16",
    "weight_format_attention": None,  # None: weight_format
    "weight_format_mlp": None,
    "weight_format_embedding": "fp16",
    "group_size": 0,
    "rank_ratio": 1.0,
    "rank_ratio_attention": None,  # None: rank_ratio
    "rank_ratio_mlp": None,
    "kv_bits": 16,
    "kv_window": 0,
    "kv_sinks": 0,
}

# What each value must satisfy for the model to build: (test, allowed text).
_DOMAINS: dict[str, tuple[Any, str]] = {
    "vocab_size": (lambda v: _is_int(v) and v >= 2, "an integer >= 2"),
    "context_length": (lambda v: _is_int(v) and v >= 1, "an integer >= 1"),
    "n_layer": (lambda v: _is_int(v) and v >= 1, "an integer >= 1"),
    "d_model": (lambda v: _is_int(v) and v >= 1, "an integer >= 1"),
    "n_head": (lambda v: _is_int(v) and v >= 1, "an integer >= 1"),
    "n_kv_head": (lambda v: v is None or (_is_int(v) and v >= 1), "an integer >= 1"),
    "head_dim": (lambda v: v is None or (_is_int(v) and v >= 1 and v % 2 == 0), "an even integer >= 2"),
    "ffn_mult": (lambda v: _is_number(v) and v > 0, "a number > 0"),
    "ffn_dim": (lambda v: v is None or (_is_int(v) and v >= 1), "an integer >= 1"),
    "mlp": (lambda v: v in MLP_KINDS, ", ".join(MLP_KINDS)),
    "norm": (lambda v: v in NORM_KINDS, ", ".join(NORM_KINDS)),
    "positions": (lambda v: v in POSITION_KINDS, ", ".join(POSITION_KINDS)),
    "tie_embeddings": (lambda v: isinstance(v, bool), "true or false"),
    "bias": (lambda v: isinstance(v, bool), "true or false"),
    "qkv_bias": (lambda v: v is None or isinstance(v, bool), "true or false"),
    "weight_format": (lambda v: v in WEIGHT_FORMATS, ", ".join(WEIGHT_FORMATS)),
    "weight_format_attention": (lambda v: v is None or v in WEIGHT_FORMATS, ", ".join(WEIGHT_FORMATS)),
    "weight_format_mlp": (lambda v: v is None or v in WEIGHT_FORMATS, ", ".join(WEIGHT_FORMATS)),
    "weight_format_embedding": (lambda v: v in WEIGHT_FORMATS, ", ".join(WEIGHT_FORMATS)),
    "group_size": (lambda v: _is_int(v) and v >= 0, "0 (per output channel) or an integer >= 1"),
    "rank_ratio": (lambda v: _is_number(v) and 0 < v <= 1, "a number in (0, 1]"),
    "rank_ratio_attention": (lambda v: v is None or (_is_number(v) and 0 < v <= 1), "a number in (0, 1]"),
    "rank_ratio_mlp": (lambda v: v is None or (_is_number(v) and 0 < v <= 1), "a number in (0, 1]"),
    "kv_bits": (lambda v: v in KV_BITS, ", ".join(str(b) for b in KV_BITS)),
    "kv_window": (lambda v: _is_int(v) and v >= 0, "0 (whole context) or an integer >= 1"),
    "kv_sinks": (lambda v: _is_int(v) and v >= 0, "an integer >= 0"),
}


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def structural_violation(values: Mapping[str, Any]) -> str | None:
    """Return why these transformer values cannot build, or None when they can.

    Checks the divisibility rules that any space gets for free, on top of the
    constraints its YAML declares: d_model divisible by n_head (unless head_dim
    is set), n_head divisible by n_kv_head, and the KV window within the context.
    """
    merged = {**DEFAULTS, **values}
    n_head, d_model = merged["n_head"], merged["d_model"]
    n_kv_head = merged["n_kv_head"] or n_head
    if merged["head_dim"] is None and d_model % n_head:
        return f"d_model ({d_model}) is not divisible by n_head ({n_head})"
    if merged["head_dim"] is None and (d_model // n_head) % 2 and merged["positions"] == "rope":
        return f"rotary positions need an even head dimension, got {d_model // n_head}"
    if n_head % n_kv_head:
        return f"n_head ({n_head}) is not divisible by n_kv_head ({n_kv_head})"
    if merged["kv_window"] > merged["context_length"]:
        return f"kv_window ({merged['kv_window']}) exceeds context_length ({merged['context_length']})"
    if merged["kv_window"] and merged["kv_sinks"] >= merged["kv_window"]:
        return f"kv_sinks ({merged['kv_sinks']}) must be below kv_window ({merged['kv_window']})"
    return None


def arch_from_values(values: Mapping[str, Any]) -> ArchConfig:
    """Build an ArchConfig from gene and fixed values (names as in DEFAULTS)."""
    unknown = sorted(set(values) - set(DEFAULTS))
    if unknown:
        raise ValueError(f"unknown transformer gene {unknown[0]!r}")
    reason = structural_violation(values)
    if reason is not None:
        raise ValueError(reason)
    v = {**DEFAULTS, **values}
    n_head = v["n_head"]
    head_dim = v["head_dim"] or v["d_model"] // n_head
    ffn_dim = v["ffn_dim"] or max(1, int(round(v["ffn_mult"] * v["d_model"])))
    layer = LayerConfig(
        n_head=n_head,
        n_kv_head=v["n_kv_head"] or n_head,
        head_dim=head_dim,
        ffn_dim=ffn_dim,
        weight_format_attention=v["weight_format_attention"] or v["weight_format"],
        weight_format_mlp=v["weight_format_mlp"] or v["weight_format"],
        rank_ratio_attention=float(v["rank_ratio_attention"] or v["rank_ratio"]),
        rank_ratio_mlp=float(v["rank_ratio_mlp"] or v["rank_ratio"]),
    )
    return ArchConfig(
        vocab_size=v["vocab_size"],
        context_length=v["context_length"],
        d_model=v["d_model"],
        layers=tuple(layer for _ in range(v["n_layer"])),
        mlp=v["mlp"],
        norm=v["norm"],
        positions=v["positions"],
        tie_embeddings=v["tie_embeddings"],
        bias=v["bias"],
        qkv_bias=v["bias"] if v["qkv_bias"] is None else v["qkv_bias"],
        weight_format_embedding=v["weight_format_embedding"],
        group_size=v["group_size"],
        kv_bits=v["kv_bits"],
        kv_window=v["kv_window"],
        kv_sinks=v["kv_sinks"],
    )


def low_rank(in_features: int, out_features: int, rank_ratio: float) -> int | None:
    """Return the rank of a factorized projection, or None when it stays dense.

    The rank is round(rank_ratio * min(in, out)), at least 1; a ratio of 1.0, or
    a rank whose two factors would hold as many weights as the dense matrix,
    keeps the projection dense.
    """
    if rank_ratio >= 1.0:
        return None
    rank = max(1, int(round(rank_ratio * min(in_features, out_features))))
    if rank * (in_features + out_features) >= in_features * out_features:
        return None
    return rank


def check_transformer_space(space: Any, data: Any) -> None:
    """Check every gene and fixed value of a transformer space against what can build."""
    from shinka.space.genes import all_values

    lines = data.line_of
    genes_lines = data["genes"].line_of if hasattr(data.get("genes"), "line_of") else (lambda k: None)
    for name, gene in space.genes.items():
        if name not in DEFAULTS:
            raise UserError(
                "unknown gene", file=space.source, line=genes_lines(name), field=f"genes.{name}",
                value=name, allowed=", ".join(DEFAULTS),
            )
        test, allowed = _DOMAINS[name]
        try:
            values = all_values(gene)
        except ValueError:
            values = [gene.low, gene.high]
        for value in values:
            if not test(value):
                raise UserError(
                    "gene value cannot build a model", file=space.source,
                    line=genes_lines(name), field=f"genes.{name}", value=value, allowed=allowed,
                )
    fixed_lines = data["fixed"].line_of if hasattr(data.get("fixed"), "line_of") else (lambda k: None)
    for name, value in space.fixed.items():
        if name not in DEFAULTS:
            raise UserError(
                "unknown fixed value", file=space.source, line=fixed_lines(name),
                field=f"fixed.{name}", value=name, allowed=", ".join(DEFAULTS),
            )
        test, allowed = _DOMAINS[name]
        if not test(value):
            raise UserError(
                "fixed value cannot build a model", file=space.source, line=fixed_lines(name),
                field=f"fixed.{name}", value=value, allowed=allowed,
            )
    del lines


def _register() -> None:
    from shinka.space.search_space import register_kind

    register_kind("transformer", check_transformer_space, structural_violation)


_register()
