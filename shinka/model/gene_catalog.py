"""The transformer genes: names and defaults, allowed values, per-layer names and structural rules.

Importing this module registers the "transformer" space kind, so a search
space of that kind rejects unknown gene names, values that cannot build, and
genomes that break a structural rule.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

from shinka.errors import UserError
from shinka.model.formats import SPARSITY_ALLOWED, WEIGHT_FORMATS, is_valid_sparsity
from shinka.space.genes import PerLayerGene, all_values, element_gene
from shinka.space.rules import Rule, check_rules
from shinka.space.search_space import KindSpec, SearchSpace, register_kind

KV_BITS = (16, 8, 4)
MLP_KINDS = ("gelu", "swiglu")
NORM_KINDS = ("layernorm", "rmsnorm")
POSITION_KINDS = ("learned", "rope")

# Projections of a block, by short gene suffix, and the group each belongs to.
ATTENTION_PROJECTIONS = {"q": "q_proj", "k": "k_proj", "v": "v_proj", "o": "o_proj"}
MLP_PROJECTIONS = {"gate": "gate", "up": "up", "down": "down"}
PROJECTION_GROUPS = {"attention": ATTENTION_PROJECTIONS, "mlp": MLP_PROJECTIONS}

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
    "group_size": 0,  # input channels per int8/int4 scale; 0 is one scale per output channel
    "group_size_attention": None,  # None: group_size
    "group_size_mlp": None,
    "group_size_embedding": None,
    "sparsity": 0.0,  # 0 dense, a pruned share in (0, 1) (unstructured), or "N:M"
    "sparsity_attention": None,  # None: sparsity
    "sparsity_mlp": None,
    "sparsity_embedding": 0.0,
    "rank_ratio": 1.0,  # low-rank share of min(in, out); 1.0 is dense
    "rank": 0,  # absolute rank of every projection; 0 leaves the ratio in charge
    "kv_bits": 16,
    "kv_window": 0,
    "kv_sinks": 0,
}
# Rank settings at three levels; the most specific one set wins, and at one
# level an absolute rank (> 0) wins over a ratio (not None).
for _group, _projections in PROJECTION_GROUPS.items():
    DEFAULTS[f"rank_ratio_{_group}"] = None
    DEFAULTS[f"rank_{_group}"] = 0
    for _short in _projections:
        DEFAULTS[f"rank_ratio_{_short}"] = None
        DEFAULTS[f"rank_{_short}"] = 0
RANK_LEVELS = [("rank", "rank_ratio")] + [
    (f"rank_{name}", f"rank_ratio_{name}") for name in [*PROJECTION_GROUPS, *ATTENTION_PROJECTIONS, *MLP_PROJECTIONS]
]

# Names whose value may be a list with one element per layer.
PER_LAYER_NAMES = frozenset(
    {
        "n_head", "n_kv_head", "head_dim", "ffn_mult", "ffn_dim",
        "weight_format", "weight_format_attention", "weight_format_mlp",
        "group_size_attention", "group_size_mlp",
        "sparsity", "sparsity_attention", "sparsity_mlp",
    }
    | {name for level in RANK_LEVELS for name in level}
)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _optional(test: Callable[[Any], bool]) -> Callable[[Any], bool]:
    return lambda v: v is None or test(v)


_FORMATS = ", ".join(WEIGHT_FORMATS)
_RATIO = (_optional(lambda v: _is_number(v) and 0 < v <= 1), "a number in (0, 1]")
_RANK = (lambda v: _is_int(v) and v >= 0, "0 (use the ratio) or an integer >= 1")
_GROUP = (_optional(lambda v: _is_int(v) and v >= 0), "0 (per output channel) or an integer >= 1")

# Allowed values of each name, as (test, allowed text), for the model to build.
DOMAINS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "vocab_size": (lambda v: _is_int(v) and v >= 2, "an integer >= 2"),
    "context_length": (lambda v: _is_int(v) and v >= 1, "an integer >= 1"),
    "n_layer": (lambda v: _is_int(v) and v >= 1, "an integer >= 1"),
    "d_model": (lambda v: _is_int(v) and v >= 1, "an integer >= 1"),
    "n_head": (lambda v: _is_int(v) and v >= 1, "an integer >= 1"),
    "n_kv_head": (_optional(lambda v: _is_int(v) and v >= 1), "an integer >= 1"),
    "head_dim": (_optional(lambda v: _is_int(v) and v >= 2 and v % 2 == 0), "an even integer >= 2"),
    "ffn_mult": (lambda v: _is_number(v) and v > 0, "a number > 0"),
    "ffn_dim": (_optional(lambda v: _is_int(v) and v >= 1), "an integer >= 1"),
    "mlp": (lambda v: v in MLP_KINDS, ", ".join(MLP_KINDS)),
    "norm": (lambda v: v in NORM_KINDS, ", ".join(NORM_KINDS)),
    "positions": (lambda v: v in POSITION_KINDS, ", ".join(POSITION_KINDS)),
    "tie_embeddings": (lambda v: isinstance(v, bool), "true or false"),
    "bias": (lambda v: isinstance(v, bool), "true or false"),
    "qkv_bias": (_optional(lambda v: isinstance(v, bool)), "true or false"),
    "weight_format": (lambda v: v in WEIGHT_FORMATS, _FORMATS),
    "weight_format_attention": (_optional(lambda v: v in WEIGHT_FORMATS), _FORMATS),
    "weight_format_mlp": (_optional(lambda v: v in WEIGHT_FORMATS), _FORMATS),
    "weight_format_embedding": (lambda v: v in WEIGHT_FORMATS, _FORMATS),
    "group_size": (lambda v: _is_int(v) and v >= 0, "0 (per output channel) or an integer >= 1"),
    "group_size_attention": _GROUP,
    "group_size_mlp": _GROUP,
    "group_size_embedding": _GROUP,
    "sparsity": (is_valid_sparsity, SPARSITY_ALLOWED),
    "sparsity_attention": (_optional(is_valid_sparsity), SPARSITY_ALLOWED),
    "sparsity_mlp": (_optional(is_valid_sparsity), SPARSITY_ALLOWED),
    "sparsity_embedding": (is_valid_sparsity, SPARSITY_ALLOWED),
    "rank_ratio": (lambda v: _is_number(v) and 0 < v <= 1, "a number in (0, 1]"),
    "kv_bits": (lambda v: v in KV_BITS, ", ".join(str(b) for b in KV_BITS)),
    "kv_window": (lambda v: _is_int(v) and v >= 0, "0 (whole context) or an integer >= 1"),
    "kv_sinks": (lambda v: _is_int(v) and v >= 0, "an integer >= 0"),
}
for _absolute, _ratio in RANK_LEVELS:
    DOMAINS[_absolute] = _RANK
    DOMAINS.setdefault(_ratio, _RATIO)


def _value(values: Mapping[str, Any], name: str) -> Any:
    return values[name] if name in values else DEFAULTS[name]


def _heads_divide(values: Mapping[str, Any]) -> str | None:
    d_model, n_head = _value(values, "d_model"), _value(values, "n_head")
    if _value(values, "head_dim") is None and d_model % n_head:
        return f"d_model ({d_model}) is not divisible by n_head ({n_head})"
    return None


def _rotary_even(values: Mapping[str, Any]) -> str | None:
    d_model, n_head = _value(values, "d_model"), _value(values, "n_head")
    if _value(values, "positions") == "rope" and _value(values, "head_dim") is None and (d_model // n_head) % 2:
        return f"rotary positions need an even head dimension, got {d_model // n_head}"
    return None


def _kv_heads_divide(values: Mapping[str, Any]) -> str | None:
    n_head = _value(values, "n_head")
    n_kv_head = _value(values, "n_kv_head") or n_head
    if n_head % n_kv_head:
        return f"n_head ({n_head}) is not divisible by n_kv_head ({n_kv_head})"
    return None


def _window_in_context(values: Mapping[str, Any]) -> str | None:
    window, context = _value(values, "kv_window"), _value(values, "context_length")
    if window > context:
        return f"kv_window ({window}) exceeds context_length ({context})"
    return None


def _sinks_in_window(values: Mapping[str, Any]) -> str | None:
    window, sinks = _value(values, "kv_window"), _value(values, "kv_sinks")
    if window and sinks >= window:
        return f"kv_sinks ({sinks}) must be below kv_window ({window})"
    return None


# Rules every transformer genome satisfies on top of its space's constraints;
# `names` lists every value a check reads, so that counting links the right genes.
STRUCTURAL_RULES: tuple[Rule, ...] = (
    Rule("the rule 'd_model divisible by n_head'", frozenset({"d_model", "n_head", "head_dim"}), _heads_divide),
    Rule(
        "the rule 'even head dimension with rotary positions'",
        frozenset({"positions", "d_model", "n_head", "head_dim"}), _rotary_even,
    ),
    Rule("the rule 'n_head divisible by n_kv_head'", frozenset({"n_head", "n_kv_head"}), _kv_heads_divide),
    Rule("the rule 'kv_window within context_length'", frozenset({"kv_window", "context_length"}), _window_in_context),
    Rule("the rule 'kv_sinks below kv_window'", frozenset({"kv_sinks", "kv_window"}), _sinks_in_window),
)


def structural_violation(values: Mapping[str, Any]) -> str | None:
    """Return why these transformer values cannot build, or None when they can.

    Checks the rules any transformer space gets for free, on top of the
    constraints its YAML declares. The rules: d_model divisible by n_head
    (unless head_dim is set), an even head dimension with rotary positions,
    n_head divisible by n_kv_head, the KV window within the context, and the
    sinks within the window. A list value gives one element per layer, and
    each of the first n_layer layers is checked.
    """
    n_layer = _value(values, "n_layer")
    per_layer = set()
    for name, value in values.items():
        if isinstance(value, (list, tuple)):
            if name not in PER_LAYER_NAMES:
                return f"{name} takes one value, not a list (per-layer names: {', '.join(sorted(PER_LAYER_NAMES))})"
            if len(value) < n_layer:
                return f"{name} has {len(value)} per-layer values but n_layer is {n_layer}"
            per_layer.add(name)
    return check_rules(STRUCTURAL_RULES, values, frozenset(per_layer), n_layer)


def _largest_layer_count(space: SearchSpace) -> int:
    gene = space.genes.get("n_layer")
    if gene is not None:
        return max(all_values(gene))
    return space.fixed.get("n_layer", DEFAULTS["n_layer"])


def _check_value(space: SearchSpace, name: str, value: Any, where: str, line: int | None) -> None:
    test, allowed = DOMAINS[name]
    if not test(value):
        raise UserError(
            f"{'gene' if where == 'genes' else 'fixed'} value cannot build a model", file=space.source, line=line,
            field=f"{where}.{name}", value=value, allowed=allowed,
        )


def check_transformer_space(space: SearchSpace, data: Any) -> None:
    """Check every gene and fixed value of a transformer space against what can build."""
    genes_spec, fixed_spec = data.get("genes"), data.get("fixed")
    gene_line = genes_spec.line_of if hasattr(genes_spec, "line_of") else (lambda key: None)
    fixed_line = fixed_spec.line_of if hasattr(fixed_spec, "line_of") else (lambda key: None)
    layers = None
    for name, gene in space.genes.items():
        if name not in DEFAULTS:
            raise UserError(
                "unknown gene", file=space.source, line=gene_line(name), field=f"genes.{name}",
                value=name, allowed=", ".join(DEFAULTS),
            )
        if isinstance(gene, PerLayerGene):
            if name not in PER_LAYER_NAMES:
                raise UserError(
                    "gene cannot vary per layer", file=space.source, line=gene_line(name),
                    field=f"genes.{name}.per_layer", value=True, allowed=", ".join(sorted(PER_LAYER_NAMES)),
                )
            layers = layers or _largest_layer_count(space)
            if gene.length != layers:
                raise UserError(
                    "per-layer length differs from the largest n_layer", file=space.source,
                    line=gene_line(name), field=f"genes.{name}.length", value=gene.length, allowed=str(layers),
                )
        element = element_gene(gene)
        try:
            values = all_values(element)
        except ValueError:
            values = [element.low, element.high]  # type: ignore[attr-defined]
        for value in values:
            _check_value(space, name, value, "genes", gene_line(name))
    for name, value in space.fixed.items():
        if name not in DEFAULTS:
            raise UserError(
                "unknown fixed value", file=space.source, line=fixed_line(name),
                field=f"fixed.{name}", value=name, allowed=", ".join(DEFAULTS),
            )
        if isinstance(value, list) and name in PER_LAYER_NAMES:
            layers = layers or _largest_layer_count(space)
            if len(value) < layers:
                raise UserError(
                    "a per-layer fixed list needs one value per layer", file=space.source,
                    line=fixed_line(name), field=f"fixed.{name}", value=value,
                    allowed=f"a list of at least {layers} values (the largest n_layer)",
                )
            for item in value:
                _check_value(space, name, item, "fixed", fixed_line(name))
        else:
            _check_value(space, name, value, "fixed", fixed_line(name))
    names = set(space.genes) | set(space.fixed)
    for absolute, ratio in RANK_LEVELS:
        if absolute in names and ratio in names:
            raise UserError(
                f"both {absolute} and {ratio} are set; the absolute rank would always win",
                file=space.source, field=f"genes.{ratio}" if ratio in space.genes else f"fixed.{ratio}",
                value=ratio, allowed=f"either {absolute} or {ratio}",
            )


register_kind(
    "transformer",
    KindSpec(
        check_domains=check_transformer_space,
        rules=STRUCTURAL_RULES,
        layer_count="n_layer",
        defaults=DEFAULTS,
        per_layer_names=PER_LAYER_NAMES,
    ),
)
