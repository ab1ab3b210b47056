"""Random search: uniform valid genomes, never the same one twice while unseen ones remain."""

from __future__ import annotations

import numpy as np

from shinka.search.base import Proposal, Strategy
from shinka.space.genome import Genome
from shinka.space.search_space import SearchSpace


class RandomSearch(Strategy):
    def __init__(self, space: SearchSpace, n_objectives: int, seed: int, max_retries: int = 100) -> None:
        super().__init__(space, n_objectives, seed)
        self.max_retries = max_retries

    def ask(self) -> Proposal:
        genome = self._fresh_random(self.max_retries)
        self.seen.add(genome.id)
        return Proposal(genome=genome)

    def tell(self, genome: Genome, values: np.ndarray | None) -> None:
        pass
