"""NSGA-II with DEAP's non-dominated sort and crowding distance, usable asynchronously."""

from __future__ import annotations

import numpy as np

from shinka.search import pareto
from shinka.search.base import Proposal, Strategy
from shinka.search.variation import mutate, uniform_crossover
from shinka.space.genome import Genome
from shinka.space.search_space import SearchSpace


class NSGA2(Strategy):
    """Generational NSGA-II (Deb et al. 2002) over a discrete or mixed search space.

    The first `population_size` proposals are random. Later ones are offspring of
    the current population: binary tournament on (rank, crowding distance), then
    uniform crossover with `crossover_probability` and per-gene mutation. Once
    `population_size` offspring have results, survival keeps the best
    `population_size` of parents plus offspring by rank and crowding distance.
    `ask` never waits for a generation to finish: while results are pending it
    keeps breeding from the current population, so workers are never idle.
    Offspring that break a constraint or repeat an evaluated genome are redrawn
    up to `max_retries` times.
    """

    def __init__(
        self,
        space: SearchSpace,
        n_objectives: int,
        seed: int,
        population_size: int = 12,
        crossover_probability: float = 0.9,
        mutation_probability: float | None = None,
        max_retries: int = 100,
    ) -> None:
        super().__init__(space, n_objectives, seed)
        self.population_size = population_size
        self.crossover_probability = crossover_probability
        self.mutation_probability = mutation_probability or 1.0 / max(1, len(space.genes))
        self.max_retries = max_retries
        self.population: list[tuple[Genome, np.ndarray]] = []
        self.offspring: list[tuple[Genome, np.ndarray]] = []
        self.generation = 0
        self.asked = 0
        self._ranks = np.zeros(0)
        self._crowding = np.zeros(0)

    def ask(self) -> Proposal:
        self.asked += 1
        if self.asked <= self.population_size or len(self.population) < 2:
            genome = self._fresh_random(self.max_retries)
            self.seen.add(genome.id)
            return Proposal(genome=genome, operator="random", info={"generation": self.generation})
        for _ in range(self.max_retries):
            first, second = self._tournament(), self._tournament()
            if self.rng.random() < self.crossover_probability:
                child = uniform_crossover(first, second, self.rng)
                operator, parents = "crossover+mutation", (first.id, second.id)
            else:
                child, operator, parents = first, "mutation", (first.id,)
            child = self.space.canonical(mutate(child, self.space, self.mutation_probability, self.rng))
            if child.id not in self.seen and self.space.is_valid(child):
                self.seen.add(child.id)
                return Proposal(genome=child, parents=parents, operator=operator, info={"generation": self.generation})
        genome = self._fresh_random(self.max_retries)
        self.seen.add(genome.id)
        return Proposal(genome=genome, operator="random", info={"generation": self.generation})

    def tell(self, genome: Genome, values: np.ndarray | None) -> None:
        if values is None or not np.all(np.isfinite(values)):
            return
        entry = (genome, np.asarray(values, dtype=float))
        if self.generation == 0 and len(self.population) < self.population_size:
            # The initial population fills up with the first results.
            self.population.append(entry)
            self._update_population_order()
            return
        self.offspring.append(entry)
        if len(self.offspring) >= self.population_size:
            self._survive()

    def _survive(self) -> None:
        pool = self.population + self.offspring
        values = np.stack([v for _, v in pool])
        keep = pareto.select_nsga2(values, self.population_size)
        self.population = [pool[i] for i in keep]
        self.offspring = []
        self.generation += 1
        self._update_population_order()

    def _update_population_order(self) -> None:
        values = np.stack([v for _, v in self.population])
        self._ranks = pareto.pareto_ranks(values)
        self._crowding = pareto.crowding_distances(values)

    def _tournament(self) -> Genome:
        i, j = self.rng.randrange(len(self.population)), self.rng.randrange(len(self.population))
        if (self._ranks[i], -self._crowding[i]) <= (self._ranks[j], -self._crowding[j]):
            return self.population[i][0]
        return self.population[j][0]
