"""The ask/tell interface every strategy implements; it knows nothing about transformers."""

from __future__ import annotations

import random
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from shinka.space.genome import Genome
from shinka.space.search_space import SearchSpace


@dataclass
class Proposal:
    """A genome to evaluate, with how it was made (for the record, not for evaluation)."""

    genome: Genome
    parents: tuple[str, ...] = ()
    operator: str = "random"
    info: dict[str, Any] = field(default_factory=dict)


class Strategy(ABC):
    """Propose genomes with `ask`, learn from results with `tell`.

    Objective values given to `tell` are to be minimized (the caller negates
    maximized objectives); None marks a failed evaluation. A strategy draws all
    its randomness from its own seeded generator, so with one worker the same
    seed gives the same sequence of proposals.
    """

    def __init__(self, space: SearchSpace, n_objectives: int, seed: int) -> None:
        self.space = space
        self.n_objectives = n_objectives
        self.rng = random.Random(seed)
        self.seen: set[str] = set()  # ids of every genome proposed so far

    @abstractmethod
    def ask(self) -> Proposal: ...

    @abstractmethod
    def tell(self, genome: Genome, values: np.ndarray | None) -> None: ...

    def tell_infeasible(self, genome: Genome) -> None:
        """Learn that a proposed genome broke a hard constraint and was never evaluated.

        The default treats it as a failed evaluation.
        """
        self.tell(genome, None)

    def _fresh_random(self, max_tries: int) -> Genome:
        """Return a valid genome never proposed before (or any valid one when the space is exhausted)."""
        genome = self.space.sample(self.rng)
        for _ in range(max_tries):
            if genome.id not in self.seen:
                break
            genome = self.space.sample(self.rng)
        return genome


STRATEGIES = ("shinka", "nsga2", "optuna", "random")


def make_strategy(settings: Any, space: SearchSpace, n_objectives: int, seed: int) -> Strategy:
    """Build the strategy named by `settings.name` (one of STRATEGIES) from a StrategyConfig."""
    if settings.name == "random":
        from shinka.search.random_search import RandomSearch

        return RandomSearch(space, n_objectives, seed, max_retries=settings.max_retries)
    if settings.name == "shinka":
        from shinka.search.shinka_evolve import ShinkaEvolve

        return ShinkaEvolve(space, n_objectives, seed, settings.shinka)
    if settings.name == "optuna":
        from shinka.search.optuna_strategy import OptunaStrategy

        return OptunaStrategy(space, n_objectives, seed, settings.optuna)
    if settings.name != "nsga2":
        raise ValueError(f"unknown strategy '{settings.name}'; allowed: {', '.join(STRATEGIES)}")
    from shinka.search.nsga2 import NSGA2

    return NSGA2(
        space,
        n_objectives,
        seed,
        population_size=settings.population_size,
        crossover_probability=settings.crossover_probability,
        mutation_probability=settings.mutation_probability,
        max_retries=settings.max_retries,
    )
