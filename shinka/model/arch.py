"""ArchConfig: the transformer a genome describes, and its projections as built and stored.

The mapping from genes to architecture lives here only, so the model, the cost
model, the packed export and the hardware estimates all read the same numbers.
Gene names, defaults and structural rules are in shinka.model.gene_catalog.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Mapping

from shinka.model.formats import WEIGHT_BITS, WEIGHT_FORMATS, Sparsity, parse_sparsity
from shinka.model.gene_catalog import (
    ATTENTION_PROJECTIONS,
    DEFAULTS,
    DOMAINS,
    KV_BITS,
    MLP_KINDS,
    MLP_PROJECTIONS,
    NORM_KINDS,
    PER_LAYER_NAMES,
    POSITION_KINDS,
    check_transformer_space,
    structural_violation,
)

__all__ = [
    "ArchConfig", "DEFAULTS", "KV_BITS", "LayerConfig", "MLP_KINDS", "NORM_KINDS", "PER_LAYER_NAMES",
    "POSITION_KINDS", "Projection", "WEIGHT_BITS", "WEIGHT_FORMATS", "arch_from_values",
    "check_transformer_space", "embedding_projection", "layer_projections", "low_rank", "structural_violation",
]


@dataclass(frozen=True)
class LayerConfig:
    """One transformer block: attention plus MLP, with its compression settings.

    `ranks` maps each projection name (q_proj, k_proj, v_proj, o_proj, gate, up,
    down) to its low-rank factor rank, 0 for dense. Configs saved before it
    existed leave it None, and the rank ratios decide instead.
    """

    n_head: int
    n_kv_head: int
    head_dim: int
    ffn_dim: int
    weight_format_attention: str = "fp16"
    weight_format_mlp: str = "fp16"
    rank_ratio_attention: float = 1.0  # share of min(in, out) kept by low-rank factors; 1.0 is dense
    rank_ratio_mlp: float = 1.0
    sparsity_attention: Any = 0.0  # a sparsity gene value, see shinka.model.formats.parse_sparsity
    sparsity_mlp: Any = 0.0
    group_size_attention: int | None = None  # None: ArchConfig.group_size
    group_size_mlp: int | None = None
    ranks: dict[str, int] | None = None


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
    sparsity_embedding: Any = 0.0
    group_size_embedding: int | None = None  # None: group_size

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


@dataclass(frozen=True)
class Projection:
    """One weight matrix as built and stored: dense, or two factors when low rank.

    Each factor has the projection's weight format, group size and sparsity,
    and the bias (out_features values) belongs to the second factor.
    """

    name: str
    in_features: int
    out_features: int
    bias: bool
    weight_format: str
    group_size: int
    rank: int | None
    sparsity: Sparsity

    def matrices(self) -> list[tuple[int, int]]:
        """Return (out, in) of each weight matrix: one when dense, two factors when low rank."""
        if self.rank is None:
            return [(self.out_features, self.in_features)]
        return [(self.rank, self.in_features), (self.out_features, self.rank)]

    def parameters(self) -> int:
        weights = sum(o * i for o, i in self.matrices())
        return weights + (self.out_features if self.bias else 0)

    def kept_weights(self) -> int:
        """Return the weights left after the sparsity mask, over all factors."""
        return sum(self.sparsity.kept(o, i) for o, i in self.matrices())

    def matmul_flops_per_token(self) -> int:
        return sum(2 * o * i for o, i in self.matrices())


def low_rank(in_features: int, out_features: int, rank_ratio: float) -> int | None:
    """Return the rank of a factorized projection, or None when it stays dense.

    The rank is round(rank_ratio * min(in, out)), at least 1. A ratio of 1.0, or
    a rank whose two factors would contain as many weights as the dense matrix,
    keeps the projection dense.
    """
    if rank_ratio >= 1.0:
        return None
    rank = max(1, int(round(rank_ratio * min(in_features, out_features))))
    return fixed_rank(in_features, out_features, rank)


def fixed_rank(in_features: int, out_features: int, rank: int) -> int | None:
    """Return `rank`, or None (dense) when its two factors would contain as many weights as the dense matrix.

    That covers every rank at or above min(in, out).
    """
    if rank < 1 or rank * (in_features + out_features) >= in_features * out_features:
        return None
    return rank


def _group_size(value: int | None, fallback: int) -> int:
    return fallback if value is None else value


def layer_projections(arch: ArchConfig, layer: LayerConfig) -> list[Projection]:
    """List a block's projections in build order: q, k, v, o, then gate (SwiGLU only), up, down."""
    d = arch.d_model
    q_out, kv_out = layer.n_head * layer.head_dim, layer.n_kv_head * layer.head_dim
    f = layer.ffn_dim
    shapes = [
        ("q_proj", d, q_out, arch.qkv_bias, "attention"),
        ("k_proj", d, kv_out, arch.qkv_bias, "attention"),
        ("v_proj", d, kv_out, arch.qkv_bias, "attention"),
        ("o_proj", q_out, d, arch.bias, "attention"),
    ]
    if arch.mlp == "swiglu":
        shapes.append(("gate", d, f, arch.bias, "mlp"))
    shapes += [("up", d, f, arch.bias, "mlp"), ("down", f, d, arch.bias, "mlp")]
    projections = []
    for name, in_features, out_features, bias, group in shapes:
        attention = group == "attention"
        if layer.ranks is not None:
            rank = layer.ranks.get(name, 0) or None
        else:
            rank = low_rank(in_features, out_features, layer.rank_ratio_attention if attention else layer.rank_ratio_mlp)
        projections.append(
            Projection(
                name=name,
                in_features=in_features,
                out_features=out_features,
                bias=bias,
                weight_format=layer.weight_format_attention if attention else layer.weight_format_mlp,
                group_size=_group_size(layer.group_size_attention if attention else layer.group_size_mlp, arch.group_size),
                rank=rank,
                sparsity=parse_sparsity(layer.sparsity_attention if attention else layer.sparsity_mlp),
            )
        )
    return projections


def embedding_projection(arch: ArchConfig) -> Projection:
    """Return the token embedding as a (vocab, d_model) matrix; an untied output head has the same form."""
    return Projection(
        name="token_embedding",
        in_features=arch.d_model,
        out_features=arch.vocab_size,
        bias=False,
        weight_format=arch.weight_format_embedding,
        group_size=_group_size(arch.group_size_embedding, arch.group_size),
        rank=None,
        sparsity=parse_sparsity(arch.sparsity_embedding),
    )


def _resolve_rank(value: Any, short: str, group: str, in_features: int, out_features: int) -> int:
    """Return the rank of one projection from the rank genes (0 for dense); the most specific level wins."""
    for absolute, ratio in ((f"rank_{short}", f"rank_ratio_{short}"), (f"rank_{group}", f"rank_ratio_{group}"), ("rank", "rank_ratio")):
        if value(absolute):
            return fixed_rank(in_features, out_features, value(absolute)) or 0
        if value(ratio) is not None:
            return low_rank(in_features, out_features, float(value(ratio))) or 0
    return 0


def _first_set(*values: Any) -> Any:
    return next((v for v in values if v is not None), None)


def arch_from_values(values: Mapping[str, Any]) -> ArchConfig:
    """Build an ArchConfig from gene and fixed values (names as in DEFAULTS).

    A per-layer name may hold a list: layer i reads element i, and elements past
    n_layer are ignored. Raises ValueError for unknown names, values outside
    their domain and values that break a structural rule.
    """
    unknown = sorted(set(values) - set(DEFAULTS))
    if unknown:
        raise ValueError(f"unknown transformer gene {unknown[0]!r}")
    for name, value in values.items():
        test, allowed = DOMAINS[name]
        items = value if isinstance(value, (list, tuple)) and name in PER_LAYER_NAMES else [value]
        for item in items:
            if not test(item):
                raise ValueError(f"invalid {name} {item!r}; allowed: {allowed}")
    reason = structural_violation(values)
    if reason is not None:
        raise ValueError(reason)
    v = {**DEFAULTS, **values}
    d_model = v["d_model"]
    layers = []
    for index in range(v["n_layer"]):

        def at(name: str, index: int = index) -> Any:
            item = v[name]
            return item[index] if isinstance(item, (list, tuple)) else item

        n_head = at("n_head")
        head_dim = at("head_dim") or d_model // n_head
        n_kv_head = at("n_kv_head") or n_head
        ffn_dim = at("ffn_dim") or max(1, int(round(at("ffn_mult") * d_model)))
        q_out, kv_out = n_head * head_dim, n_kv_head * head_dim
        shapes = {
            "q": (d_model, q_out, "attention"), "k": (d_model, kv_out, "attention"),
            "v": (d_model, kv_out, "attention"), "o": (q_out, d_model, "attention"),
            "gate": (d_model, ffn_dim, "mlp"), "up": (d_model, ffn_dim, "mlp"), "down": (ffn_dim, d_model, "mlp"),
        }
        names = {**ATTENTION_PROJECTIONS, **MLP_PROJECTIONS}
        ranks = {
            names[short]: _resolve_rank(at, short, group, in_features, out_features)
            for short, (in_features, out_features, group) in shapes.items()
            if short != "gate" or v["mlp"] == "swiglu"
        }
        layers.append(
            LayerConfig(
                n_head=n_head,
                n_kv_head=n_kv_head,
                head_dim=head_dim,
                ffn_dim=ffn_dim,
                weight_format_attention=at("weight_format_attention") or at("weight_format"),
                weight_format_mlp=at("weight_format_mlp") or at("weight_format"),
                rank_ratio_attention=float(_first_set(at("rank_ratio_attention"), at("rank_ratio"))),
                rank_ratio_mlp=float(_first_set(at("rank_ratio_mlp"), at("rank_ratio"))),
                sparsity_attention=_first_set(at("sparsity_attention"), at("sparsity")),
                sparsity_mlp=_first_set(at("sparsity_mlp"), at("sparsity")),
                group_size_attention=_first_set(at("group_size_attention"), v["group_size"]),
                group_size_mlp=_first_set(at("group_size_mlp"), v["group_size"]),
                ranks=ranks,
            )
        )
    return ArchConfig(
        vocab_size=v["vocab_size"],
        context_length=v["context_length"],
        d_model=d_model,
        layers=tuple(layers),
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
        sparsity_embedding=v["sparsity_embedding"],
        group_size_embedding=_first_set(v["group_size_embedding"], v["group_size"]),
    )
