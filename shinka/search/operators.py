"""Mutation operators that know the genome: resample, step, layer moves and compression moves.

Each operator takes a genome and returns a changed genome in canonical form
(SearchSpace.canonical), or None when it does not apply (no gene of the kind
it needs, or nothing left to change). The caller checks the result against the
space, so an operator may return an invalid genome.

Per-layer genes keep the list length the space declares. Operators edit only
the active elements (the first n_layer in a transformer space, all of them in
a generic space). Layer operators move `n_layer` and shift the active
elements, and SearchSpace.canonical resets the inactive tail.

Compression genes are found by name (see compression_direction), so the
operators stay usable on any space; a space without such genes simply lacks
the `compress` operator.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from shinka.space.genes import CategoricalGene, FloatGene, Gene, IntGene, PerLayerGene, all_values
from shinka.space.genome import Genome
from shinka.space.search_space import SearchSpace, kind_spec

# Formats from most to fewest bits; compression moves toward the end.
FORMAT_ORDER = ("fp32", "bf16", "fp16", "int8", "int4", "ternary")

# Gene name -> the direction that compresses:
# - "formats": later in FORMAT_ORDER (fewer bits per weight);
# - "lower" / "higher": a lower or higher number;
# - "sparsity": a larger pruned share, where 0 is dense, a number in (0, 1) is
#   the pruned share and a string "N:M" prunes 1 - N/M;
# - "rank": a lower absolute rank, where 0 means full rank (dense).
COMPRESSION_GENES: dict[str, str] = {
    "weight_format": "formats",
    "weight_format_attention": "formats",
    "weight_format_mlp": "formats",
    "weight_format_embedding": "formats",
    "kv_bits": "lower",
    "n_kv_head": "lower",  # fewer key/value heads (grouped-query attention) shrink the KV cache
    "rank_ratio": "lower",
    "rank_ratio_attention": "lower",
    "rank_ratio_mlp": "lower",
    "rank": "rank",
    "rank_attention": "rank",
    "rank_mlp": "rank",
    "sparsity": "sparsity",
    "sparsity_attention": "sparsity",
    "sparsity_mlp": "sparsity",
    "sparsity_embedding": "sparsity",
}

# Sharpens front_model's density-ratio weights toward the values most common
# in the good set. With the good set as the front, 4 was best of 1, 2, 4 and 8.
# With the good set as the best quarter of evaluated genomes (the
# `model_good_share` default), 6 was best of 2 to 12 on
# benchmarks/search_efficiency.py, seeds 5 to 12, by margins close to the
# seed-to-seed spread (see docs/benchmarks.md).
FRONT_MODEL_POWER = 6.0

LAYER_OPERATORS = ("layer_insert", "layer_delete", "layer_duplicate")
# Operators that read the search history (see ArchiveView).
ARCHIVE_OPERATORS = ("front_resample", "front_model", "gene_pool")
OPERATORS = ("resample", "step", "compress") + LAYER_OPERATORS + ARCHIVE_OPERATORS


@dataclass
class ArchiveView:
    """What archive-informed operators read: the global non-dominated genomes, every evaluated genome, and the good set.

    `good` is the share of evaluated genomes that front_model treats as good
    (the first by Pareto rank, then crowding distance). When it is empty,
    the front serves as the good set.
    """

    front: list[Genome] = field(default_factory=list)
    evaluated: list[Genome] = field(default_factory=list)
    good: list[Genome] = field(default_factory=list)
    # front_model's weights per gene; valid while the lists above stay unchanged.
    model_weights: dict[str, list[float]] = field(default_factory=dict, repr=False, compare=False)


Operator = Callable[[Genome, SearchSpace, random.Random, ArchiveView], "Genome | None"]


def _varying_genes(space: SearchSpace) -> list[str]:
    return [name for name, gene in space.genes.items() if gene.cardinality() != 1]


def _active_count(space: SearchSpace, genome: Genome, name: str) -> int:
    """Return how many leading elements of the per-layer gene `name` are active in `genome`."""
    return min(space.active_layers(space.values_of(genome)), len(genome[name]))


def _with_element(genome: Genome, name: str, index: int, element: Any) -> Genome:
    values = list(genome[name])
    values[index] = element
    return genome.replace(**{name: values})


def resample(genome: Genome, space: SearchSpace, rng: random.Random, archive: ArchiveView | None = None) -> Genome | None:
    """Redraw one gene uniformly from its domain, to a different value when the domain allows.

    For a per-layer gene, one active layer's element is redrawn.
    """
    names = _varying_genes(space)
    if not names:
        return None
    name = rng.choice(names)
    gene = space.genes[name]
    if isinstance(gene, PerLayerGene):
        index = rng.randrange(_active_count(space, genome, name))
        element = _sample_other(gene.element, genome[name][index], rng)
        return space.canonical(_with_element(genome, name, index, element))
    return space.canonical(genome.replace(**{name: _sample_other(gene, genome[name], rng)}))


def _sample_other(gene: Gene, current: Any, rng: random.Random) -> Any:
    """Draw a value of `gene`, drawing again up to 8 times while it equals `current` (a one-value domain keeps it)."""
    value = gene.sample(rng)
    for _ in range(8):
        if value != current:
            break
        value = gene.sample(rng)
    return value


def step(genome: Genome, space: SearchSpace, rng: random.Random, archive: ArchiveView | None = None) -> Genome | None:
    """Move one gene to a neighbouring value (adjacent choice, next integer step, or a small real step).

    For a per-layer gene, one active layer's element moves.
    """
    names = _varying_genes(space)
    if not names:
        return None
    name = rng.choice(names)
    gene = space.genes[name]
    if isinstance(gene, PerLayerGene):
        index = rng.randrange(_active_count(space, genome, name))
        moved = gene.element.neighbour(genome[name][index], rng)
        return space.canonical(_with_element(genome, name, index, moved))
    return space.canonical(genome.replace(**{name: gene.neighbour(genome[name], rng)}))


def _pruned_share(value: Any) -> float | None:
    """Return the share of weights a sparsity value prunes, or None when `value` is not a sparsity."""
    if value is None:
        return 0.0
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value) if 0 <= value < 1 else None
    if isinstance(value, str):
        parts = value.split(":")
        if len(parts) == 2 and all(part.strip().isdigit() for part in parts):
            kept, group = int(parts[0]), int(parts[1])
            if 1 <= kept < group:
                return 1.0 - kept / group
    return None


def _compression_key(direction: str, value: Any) -> float | None:
    """Return a number that grows with compression, or None when `value` cannot be placed in that order."""
    if direction == "formats":
        return float(FORMAT_ORDER.index(value)) if value in FORMAT_ORDER else None
    if direction == "sparsity":
        return _pruned_share(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if direction == "higher":
        return float(value)
    if direction == "rank":
        return -float(value) if value > 0 else float("-inf")
    return -float(value)


def _compressed_value(gene: Gene, direction: str, value: Any, rng: random.Random) -> Any:
    """Return a value of `gene` one step more compressed than `value`, or None at the end.

    Among discrete values that compress more, the least compressed is taken;
    ties (e.g. sparsity 0.5 and "2:4") are broken at random. Values that
    cannot be placed in the order (another type) are never chosen.
    """
    if isinstance(gene, FloatGene):
        if direction not in ("lower", "higher"):
            return None
        width = 0.1 * (gene.high - gene.low)
        moved = value - width if direction == "lower" else value + width
        moved = min(max(moved, gene.low), gene.high)
        return None if moved == value else moved
    if not isinstance(gene, (CategoricalGene, IntGene)):
        return None
    current = _compression_key(direction, value)
    if current is None:
        return None
    keyed = [(key, choice) for choice in all_values(gene)
             if (key := _compression_key(direction, choice)) is not None and key > current]
    if not keyed:
        return None
    nearest = min(key for key, _ in keyed)
    return rng.choice([choice for key, choice in keyed if key == nearest])


def compression_direction(name: str) -> str | None:
    """Return the direction in which gene `name` compresses (see COMPRESSION_GENES), or None."""
    return COMPRESSION_GENES.get(name)


def compression_genes(space: SearchSpace) -> list[str]:
    """List the genes of `space` that COMPRESSION_GENES names, in space order."""
    return [name for name in space.genes if compression_direction(name) is not None]


def compress(genome: Genome, space: SearchSpace, rng: random.Random, archive: ArchiveView | None = None) -> Genome | None:
    """Move one compression gene one value toward compression (fewer bits, lower rank, more sparsity).

    For a per-layer gene, one active layer's element moves; layers already at
    the most compressed value are skipped.
    """
    names = compression_genes(space)
    rng.shuffle(names)
    for name in names:
        gene, direction, value = space.genes[name], compression_direction(name), genome[name]
        if isinstance(gene, PerLayerGene):
            layers = list(range(_active_count(space, genome, name)))
            rng.shuffle(layers)
            for index in layers:
                moved = _compressed_value(gene.element, direction, value[index], rng)
                if moved is not None:
                    return space.canonical(_with_element(genome, name, index, moved))
            continue
        moved = _compressed_value(gene, direction, value, rng)
        if moved is not None:
            return space.canonical(genome.replace(**{name: moved}))
    return None


def list_genes(space: SearchSpace, genome: Genome | None = None) -> list[str]:
    """List the per-layer genes of `space` (their values are lists with one element per layer)."""
    return [name for name, gene in space.genes.items() if isinstance(gene, PerLayerGene)]


def layer_count_gene(space: SearchSpace) -> str | None:
    """Return the gene that sets the number of layers (`n_layer` in a transformer space), or None."""
    spec = kind_spec(space.kind)
    name = spec.layer_count if spec is not None and spec.layer_count is not None else "n_layer"
    gene = space.genes.get(name)
    return name if isinstance(gene, (CategoricalGene, IntGene)) else None


def has_layers(space: SearchSpace, genome: Genome | None = None) -> bool:
    """Return True when layer operators can apply: a layer-count gene or a per-layer gene."""
    return layer_count_gene(space) is not None or bool(list_genes(space))


def _layer_count_moved(space: SearchSpace, genome: Genome, name: str, grow: bool) -> int | None:
    """Return the next layer count up (grow) or down, None at the domain's end."""
    current = genome[name]
    values = [v for v in all_values(space.genes[name]) if isinstance(v, int) and not isinstance(v, bool)]
    moved = [v for v in values if (v > current if grow else v < current)]
    if not moved:
        return None
    return min(moved) if grow else max(moved)


def _edit_layers(layers: list[dict[str, Any]], target: int, kind: str, rng: random.Random) -> list[dict[str, Any]]:
    """Insert, duplicate or delete layers in `layers` (the active ones) until there are `target`.

    With `target` equal to the current count (a fixed layer count), one edit
    is made and the count restored. An inserted or duplicated layer pushes the
    last layer out, and a deleted layer is replaced by a copy of the new last layer.
    """
    layers = [dict(layer) for layer in layers]
    names = list(layers[0]) if layers else []
    count = len(layers)
    edits = max(1, abs(target - count))
    for _ in range(edits):
        if kind == "layer_delete":
            if len(layers) > 1:
                layers.pop(rng.randrange(len(layers)))
        elif kind == "layer_duplicate":
            position = rng.randrange(len(layers))
            layers.insert(position + 1, dict(layers[position]))
        else:
            # A new layer mixes elements taken from random existing layers.
            new_layer = {name: rng.choice(layers)[name] for name in names}
            layers.insert(rng.randrange(len(layers) + 1), new_layer)
    while len(layers) > target:
        layers.pop()
    while len(layers) < target:
        layers.append(dict(layers[-1]))
    return layers


def _change_layers(genome: Genome, space: SearchSpace, rng: random.Random, kind: str) -> Genome | None:
    count_name = layer_count_gene(space)
    lists = list_genes(space)
    changes: dict[str, Any] = {}
    if count_name is not None:
        count = _layer_count_moved(space, genome, count_name, grow=kind != "layer_delete")
        if count is None:
            return None
        changes[count_name] = count
    if lists:
        active = min(_active_count(space, genome, name) for name in lists)
        length = min(len(genome[name]) for name in lists)
        target = min(changes.get(count_name, active), length) if count_name is not None else active
        layers = [{name: genome[name][i] for name in lists} for i in range(active)]
        edited = _edit_layers(layers, target, kind, rng)
        for name in lists:
            # The edited layers replace the active prefix; the list keeps its declared length.
            tail = list(genome[name][len(edited):])
            changes[name] = [layer[name] for layer in edited] + tail
    if not changes:
        return None
    changed = space.canonical(genome.replace(**changes))
    return None if changed.id == genome.id else changed


def layer_insert(genome: Genome, space: SearchSpace, rng: random.Random, archive: ArchiveView | None = None) -> Genome | None:
    """Add a layer: `n_layer` to its next value, and a layer mixed from existing ones enters the active layers."""
    return _change_layers(genome, space, rng, "layer_insert")


def layer_delete(genome: Genome, space: SearchSpace, rng: random.Random, archive: ArchiveView | None = None) -> Genome | None:
    """Remove a layer: `n_layer` to its previous value, and one random active layer leaves every per-layer list."""
    return _change_layers(genome, space, rng, "layer_delete")


def layer_duplicate(genome: Genome, space: SearchSpace, rng: random.Random, archive: ArchiveView | None = None) -> Genome | None:
    """Copy a layer next to itself: `n_layer` to its next value, and per-layer lists repeat one active layer."""
    return _change_layers(genome, space, rng, "layer_duplicate")


def _value_key(value: Any) -> str:
    return repr(value)


def _density_ratio_weights(name: str, choices: Sequence[Any], archive: ArchiveView,
                           good_set: Sequence[Genome] | None = None) -> list[float]:
    """Return l(v) / g(v) per choice v of gene `name`, with Laplace-smoothed frequencies in the good set (l) and overall (g).

    The good set is `good_set` when given, else the front.
    """
    members = archive.front if good_set is None else good_set
    on_front: dict[str, int] = {}
    overall: dict[str, int] = {}
    for member in members:
        key = _value_key(member[name])
        on_front[key] = on_front.get(key, 0) + 1
    for member in archive.evaluated:
        key = _value_key(member[name])
        overall[key] = overall.get(key, 0) + 1
    size = len(choices) + 1
    weights = []
    for value in choices:
        key = _value_key(value)
        good = (on_front.get(key, 0) + 1) / (len(members) + size)
        seen = (overall.get(key, 0) + 1) / (len(archive.evaluated) + size)
        weights.append(good / seen)
    return weights


def _discrete_scalar_genes(space: SearchSpace) -> list[str]:
    return [n for n in _varying_genes(space) if isinstance(space.genes[n], (CategoricalGene, IntGene))]


def model_gene_share(space: SearchSpace) -> float:
    """Return the share of the space's varying genes that front_model redraws (discrete genes that are not per layer)."""
    varying = _varying_genes(space)
    return len(_discrete_scalar_genes(space)) / len(varying) if varying else 0.0


def front_resample(genome: Genome, space: SearchSpace, rng: random.Random, archive: ArchiveView | None = None) -> Genome | None:
    """Redraw one discrete gene, favouring values more frequent on the front than among all evaluated genomes.

    A value v other than the current one is drawn with weight l(v) / g(v),
    where l and g are its Laplace-smoothed frequencies on the global front
    and among every evaluated genome: the density ratio of TPE (Bergstra et
    al. 2011), used here as a mutation. Needs at least two front members.
    """
    if archive is None or len(archive.front) < 2:
        return None
    names = _discrete_scalar_genes(space)
    if not names:
        return None
    name = rng.choice(names)
    choices = [v for v in all_values(space.genes[name]) if _value_key(v) != _value_key(genome[name])]
    if not choices:
        return None
    weights = _density_ratio_weights(name, choices, archive)
    return space.canonical(genome.replace(**{name: rng.choices(choices, weights=weights)[0]}))


def front_model(genome: Genome, space: SearchSpace, rng: random.Random, archive: ArchiveView | None = None) -> Genome | None:
    """Redraw every discrete gene independently with weight (l(v) / g(v)) ** FRONT_MODEL_POWER (see front_resample).

    Here l counts values in `archive.good` when it is not empty, else on the
    front. The current value is one of the candidates. Continuous genes keep the
    parent's value, and so do per-layer genes. Needs at least two front members.
    """
    if archive is None or len(archive.front) < 2:
        return None
    names = _discrete_scalar_genes(space)
    if not names:
        return None
    good_set = archive.good or archive.front
    changes = {}
    for name in names:
        choices = list(all_values(space.genes[name]))
        weights = archive.model_weights.get(name)
        if weights is None:
            ratios = _density_ratio_weights(name, choices, archive, good_set)
            weights = archive.model_weights[name] = [w ** FRONT_MODEL_POWER for w in ratios]
        changes[name] = rng.choices(choices, weights=weights)[0]
    return space.canonical(genome.replace(**changes))


def gene_pool(genome: Genome, space: SearchSpace, rng: random.Random, archive: ArchiveView | None = None) -> Genome | None:
    """Take each gene from an independently chosen front member (gene-pool recombination, Muehlenbein 1994)."""
    if archive is None or len(archive.front) < 2:
        return None
    return space.canonical(Genome({name: rng.choice(archive.front)[name] for name in genome}))


_BY_NAME: dict[str, Operator] = {
    "resample": resample,
    "step": step,
    "compress": compress,
    "layer_insert": layer_insert,
    "layer_delete": layer_delete,
    "layer_duplicate": layer_duplicate,
    "front_resample": front_resample,
    "front_model": front_model,
    "gene_pool": gene_pool,
}


def available_operators(space: SearchSpace, names: Sequence[str] = OPERATORS) -> list[str]:
    """Return the operators among `names` that can apply to `space` (layer and compression ones need their genes)."""
    result = []
    for name in names:
        if name not in _BY_NAME:
            raise ValueError(f"unknown mutation operator '{name}'; allowed: {', '.join(OPERATORS)}")
        if name in LAYER_OPERATORS and not has_layers(space):
            continue
        if name == "compress" and not compression_genes(space):
            continue
        result.append(name)
    return result


def apply_operator(name: str, genome: Genome, space: SearchSpace, rng: random.Random,
                   archive: ArchiveView | None = None) -> Genome | None:
    """Apply the operator called `name`; None when it does not apply to this genome (or lacks an archive)."""
    return _BY_NAME[name](genome, space, rng, archive)
