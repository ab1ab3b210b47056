"""Variation operators on genomes: uniform crossover and per-gene mutation."""

from __future__ import annotations

import random

from shinka.space.genome import Genome
from shinka.space.search_space import SearchSpace


def uniform_crossover(first: Genome, second: Genome, rng: random.Random) -> Genome:
    """Take each gene from either parent with probability 1/2."""
    return Genome({name: (first if rng.random() < 0.5 else second)[name] for name in first})


def mutate(genome: Genome, space: SearchSpace, probability: float, rng: random.Random) -> Genome:
    """Change each gene with `probability`: half the time one step to a neighbouring value, else resampled.

    At least one gene changes, so a mutation never returns its input unchanged
    unless every gene has a single value.
    """
    values = genome.to_dict()
    names = list(space.genes)
    changed = [name for name in names if rng.random() < probability] or [rng.choice(names)]
    for name in changed:
        gene = space.genes[name]
        values[name] = gene.neighbour(values[name], rng) if rng.random() < 0.5 else gene.sample(rng)
    return Genome(values)

