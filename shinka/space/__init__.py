"""Search spaces: typed genes declared in YAML, constraints between them, and genomes."""

from shinka.space.genes import CategoricalGene, FloatGene, Gene, IntGene
from shinka.space.genome import Genome
from shinka.space.search_space import SearchSpace, load_search_space

__all__ = [
    "CategoricalGene",
    "FloatGene",
    "Gene",
    "Genome",
    "IntGene",
    "SearchSpace",
    "load_search_space",
]
