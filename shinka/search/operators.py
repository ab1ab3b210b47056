"""Mutation operators that know the genome: resample, step, layer moves and compression moves.

Each operator takes a genome and returns a changed genome, or None when it
does not apply (no gene of the kind it needs, or nothing left to change). The
caller checks the result against the space, so an operator may return an
invalid genome. Layer operators work on an `n_layer` gene and on every gene
whose value is a list (one element per layer). Compression genes are found by
name in COMPRESSION_GENES, so the operators stay usable on any space; a space
without such genes simply lacks the `compress` operator.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from shinka.space.genes import CategoricalGene, FloatGene, Gene, IntGene, all_values
from shinka.space.genome import Genome
from shinka.space.search_space import SearchSpace

# Formats from most to fewest bits; compression moves toward the end.
FORMAT_ORDER = ("fp32", "bf16", "fp16", "int8", "int4", "ternary")

# Gene name -> the direction that compresses: "lower" or "higher" values, or
# "formats" (later in FORMAT_ORDER).
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
    "sparsity": "higher",
    "sparsity_attention": "higher",
    "sparsity_mlp": "higher",
}

LAYER_OPERATORS = ("layer_insert", "layer_delete", "layer_duplicate")
# Operators that read the search history (see ArchiveView).
ARCHIVE_OPERATORS = ("front_resample", "gene_pool")
OPERATORS = ("resample", "step", "compress") + LAYER_OPERATORS + ARCHIVE_OPERATORS


@dataclass
class ArchiveView:
    """What archive-informed operators read: the global non-dominated genomes and every evaluated genome."""

    front: list[Genome] = field(default_factory=list)
    evaluated: list[Genome] = field(default_factory=list)


Operator = Callable[[Genome, SearchSpace, random.Random, ArchiveView], "Genome | None"]


def _varying_genes(space: SearchSpace) -> list[str]:
    return [name for name, gene in space.genes.items() if gene.cardinality() != 1]


def resample(genome: Genome, space: SearchSpace, rng: random.Random, archive: ArchiveView | None = None) -> Genome | None:
    """Redraw one gene uniformly from its domain, to a different value when the domain allows."""
    names = _varying_genes(space)
    if not names:
        return None
    name = rng.choice(names)
    gene = space.genes[name]
    value = gene.sample(rng)
    for _ in range(8):
        if value != genome[name]:
            break
        value = gene.sample(rng)
    return genome.replace(**{name: value})


def step(genome: Genome, space: SearchSpace, rng: random.Random, archive: ArchiveView | None = None) -> Genome | None:
    """Move one gene to a neighbouring value (adjacent choice, next integer step, or a small real step)."""
    names = [name for name in _varying_genes(space) if not isinstance(genome[name], list)]
    if not names:
        return None
    name = rng.choice(names)
    return genome.replace(**{name: space.genes[name].neighbour(genome[name], rng)})


def _compressed_value(gene: Gene, direction: str, value: Any) -> Any:
    """Return the next value of `gene` that compresses more than `value`, or None at the end."""
    if isinstance(gene, FloatGene):
        width = 0.1 * (gene.high - gene.low)
        moved = value - width if direction == "lower" else value + width
        moved = min(max(moved, gene.low), gene.high)
        return None if moved == value else moved
    if not isinstance(gene, (CategoricalGene, IntGene)):
        return None
    choices = list(all_values(gene))
    if direction == "formats":
        rank = {name: index for index, name in enumerate(FORMAT_ORDER)}
        if value not in rank:
            return None
        later = [c for c in choices if c in rank and rank[c] > rank[value]]
        return min(later, key=lambda c: rank[c]) if later else None
    numbers = [c for c in choices if isinstance(c, (int, float)) and not isinstance(c, bool)]
    if direction == "lower":
        below = [c for c in numbers if c < value]
        return max(below) if below else None
    above = [c for c in numbers if c > value]
    return min(above) if above else None


def compression_genes(space: SearchSpace) -> list[str]:
    """List the genes of `space` that COMPRESSION_GENES names, in space order."""
    return [name for name in space.genes if name in COMPRESSION_GENES]


def compress(genome: Genome, space: SearchSpace, rng: random.Random, archive: ArchiveView | None = None) -> Genome | None:
    """Move one compression gene one value toward compression (fewer bits, lower rank, more sparsity)."""
    names = compression_genes(space)
    rng.shuffle(names)
    for name in names:
        gene, direction, value = space.genes[name], COMPRESSION_GENES[name], genome[name]
        if isinstance(value, list):
            # A per-layer gene: compress one layer's element, judged against the
            # gene's element domain when it exposes one.
            element = getattr(gene, "element", None)
            if not value or element is None:
                continue
            index = rng.randrange(len(value))
            moved = _compressed_value(element, direction, value[index])
            if moved is None:
                continue
            return genome.replace(**{name: value[:index] + [moved] + value[index + 1:]})
        moved = _compressed_value(gene, direction, value)
        if moved is not None:
            return genome.replace(**{name: moved})
    return None


def list_genes(space: SearchSpace, genome: Genome) -> list[str]:
    """List the genes whose value in `genome` is a list (per-layer genes)."""
    return [name for name in space.genes if isinstance(genome[name], list)]


def has_layers(space: SearchSpace, genome: Genome) -> bool:
    """Return True when layer operators can apply: an `n_layer` gene or a list-valued gene."""
    return "n_layer" in space.genes or bool(list_genes(space, genome))


def _layer_count_moved(space: SearchSpace, genome: Genome, grow: bool) -> int | None:
    """Return the next `n_layer` value up (grow) or down, None at the domain's end or without the gene."""
    gene = space.genes.get("n_layer")
    if gene is None or not isinstance(gene, (CategoricalGene, IntGene)):
        return None
    current = genome["n_layer"]
    values = [v for v in all_values(gene) if isinstance(v, int) and not isinstance(v, bool)]
    moved = [v for v in values if (v > current if grow else v < current)]
    if not moved:
        return None
    return min(moved) if grow else max(moved)


def _change_layers(genome: Genome, space: SearchSpace, rng: random.Random, kind: str) -> Genome | None:
    lists = list_genes(space, genome)
    grow = kind != "layer_delete"
    changes: dict[str, Any] = {}
    count = None
    if "n_layer" in space.genes:
        count = _layer_count_moved(space, genome, grow)
        if count is None:
            return None
        changes["n_layer"] = count
    lengths = {len(genome[name]) for name in lists}
    if lists and len(lengths) == 1:
        length = lengths.pop()
        target = count if count is not None and length == genome["n_layer"] else length + (1 if grow else -1)
        if target < 1:
            return None
        layers = [{name: genome[name][i] for name in lists} for i in range(length)]
        while len(layers) < target:
            position = rng.randrange(len(layers))
            if kind == "layer_duplicate":
                layers.insert(position + 1, dict(layers[position]))
            else:
                # A new layer mixes elements taken from random existing layers.
                layers.insert(rng.randrange(len(layers) + 1), {name: rng.choice(layers)[name] for name in lists})
        while len(layers) > target:
            layers.pop(rng.randrange(len(layers)))
        for name in lists:
            changes[name] = [layer[name] for layer in layers]
    if not changes:
        return None
    return genome.replace(**changes)


def layer_insert(genome: Genome, space: SearchSpace, rng: random.Random, archive: ArchiveView | None = None) -> Genome | None:
    """Add a layer: `n_layer` to its next value, and per-layer lists get a layer mixed from existing ones."""
    return _change_layers(genome, space, rng, "layer_insert")


def layer_delete(genome: Genome, space: SearchSpace, rng: random.Random, archive: ArchiveView | None = None) -> Genome | None:
    """Remove a layer: `n_layer` to its previous value, and one random layer leaves every per-layer list."""
    return _change_layers(genome, space, rng, "layer_delete")


def layer_duplicate(genome: Genome, space: SearchSpace, rng: random.Random, archive: ArchiveView | None = None) -> Genome | None:
    """Copy a layer next to itself: `n_layer` to its next value, and per-layer lists repeat one layer."""
    return _change_layers(genome, space, rng, "layer_duplicate")


def _value_key(value: Any) -> str:
    return repr(value)


def front_resample(genome: Genome, space: SearchSpace, rng: random.Random, archive: ArchiveView | None = None) -> Genome | None:
    """Redraw one discrete gene, favouring values more frequent on the front than among all evaluated genomes.

    A value v other than the current one is drawn with weight l(v) / g(v),
    where l and g are its Laplace-smoothed frequencies on the global front
    and among every evaluated genome: the density ratio of TPE (Bergstra et
    al. 2011), used here as a mutation. Needs at least two front members.
    """
    if archive is None or len(archive.front) < 2:
        return None
    names = [n for n in _varying_genes(space) if isinstance(space.genes[n], (CategoricalGene, IntGene))
             and not isinstance(genome[n], list)]
    if not names:
        return None
    name = rng.choice(names)
    choices = [v for v in all_values(space.genes[name]) if _value_key(v) != _value_key(genome[name])]
    if not choices:
        return None
    on_front: dict[str, int] = {}
    overall: dict[str, int] = {}
    for member in archive.front:
        key = _value_key(member[name])
        on_front[key] = on_front.get(key, 0) + 1
    for member in archive.evaluated:
        key = _value_key(member[name])
        overall[key] = overall.get(key, 0) + 1
    size = len(choices) + 1
    weights = []
    for value in choices:
        key = _value_key(value)
        good = (on_front.get(key, 0) + 1) / (len(archive.front) + size)
        seen = (overall.get(key, 0) + 1) / (len(archive.evaluated) + size)
        weights.append(good / seen)
    return genome.replace(**{name: rng.choices(choices, weights=weights)[0]})


def gene_pool(genome: Genome, space: SearchSpace, rng: random.Random, archive: ArchiveView | None = None) -> Genome | None:
    """Take each gene from an independently chosen front member (gene-pool recombination, Muehlenbein 1994)."""
    if archive is None or len(archive.front) < 2:
        return None
    return Genome({name: rng.choice(archive.front)[name] for name in genome})


_BY_NAME: dict[str, Operator] = {
    "resample": resample,
    "step": step,
    "compress": compress,
    "layer_insert": layer_insert,
    "layer_delete": layer_delete,
    "layer_duplicate": layer_duplicate,
    "front_resample": front_resample,
    "gene_pool": gene_pool,
}


def available_operators(space: SearchSpace, names: Sequence[str] = OPERATORS) -> list[str]:
    """Return the operators among `names` that can apply to `space` (layer and compression ones need their genes)."""
    sample = space.sample(random.Random(0))
    result = []
    for name in names:
        if name not in _BY_NAME:
            raise ValueError(f"unknown mutation operator '{name}'; allowed: {', '.join(OPERATORS)}")
        if name in LAYER_OPERATORS and not has_layers(space, sample):
            continue
        if name == "compress" and not compression_genes(space):
            continue
        result.append(name)
    return result


def apply_operator(name: str, genome: Genome, space: SearchSpace, rng: random.Random,
                   archive: ArchiveView | None = None) -> Genome | None:
    """Apply the operator called `name`; None when it does not apply to this genome (or lacks an archive)."""
    return _BY_NAME[name](genome, space, rng, archive)
