"""Strategy `optuna`: any Optuna sampler, driven through study.ask() and study.tell().

Genes map to Optuna distributions by position, so choices of mixed types work:

- a categorical gene whose choices are numbers in increasing or decreasing
  order becomes an IntDistribution over the choice index (the sampler sees
  the order); any other categorical gene becomes a CategoricalDistribution
  over the choice index;
- an int gene becomes an IntDistribution (over the value index when it is
  both log-scaled and stepped, which Optuna does not allow);
- a float gene becomes a FloatDistribution.

A proposal that breaks a space constraint is told to Optuna as FAIL and asked
again; a repeat of an evaluated genome is told its known values and asked
again, so it costs no evaluation. After `max_retries` such asks, a fresh
random genome is enqueued and asked instead.
"""

from __future__ import annotations

import inspect
import logging
from typing import Any

import numpy as np

from shinka.search.base import Proposal, Strategy
from shinka.search.settings import OptunaSettings
from shinka.space.genes import CategoricalGene, FloatGene, Gene, IntGene, all_values
from shinka.space.genome import Genome
from shinka.space.search_space import SearchSpace

logger = logging.getLogger(__name__)


def _is_ordered_numbers(choices: tuple[Any, ...]) -> bool:
    if len(choices) < 2 or not all(isinstance(c, (int, float)) and not isinstance(c, bool) for c in choices):
        return False
    pairs = list(zip(choices, choices[1:]))
    return all(a < b for a, b in pairs) or all(a > b for a, b in pairs)


class _GeneMapping:
    """One gene's Optuna distribution and the conversions between its values and Optuna parameters."""

    def __init__(self, gene: Gene) -> None:
        import optuna.distributions as dist

        self.gene = gene
        self.values: list[Any] | None = None  # set when the parameter is a value index
        if isinstance(gene, CategoricalGene):
            self.values = list(gene.choices)
            if _is_ordered_numbers(gene.choices):
                self.distribution = dist.IntDistribution(0, len(self.values) - 1)
            else:
                self.distribution = dist.CategoricalDistribution(list(range(len(self.values))))
        elif isinstance(gene, IntGene):
            if gene.log and gene.step != 1:
                self.values = list(all_values(gene))
                self.distribution = dist.IntDistribution(0, len(self.values) - 1)
            else:
                self.distribution = dist.IntDistribution(gene.low, gene.high, step=gene.step, log=gene.log)
        elif isinstance(gene, FloatGene):
            self.distribution = dist.FloatDistribution(gene.low, gene.high, log=gene.log)
        else:
            raise ValueError(f"the optuna strategy cannot map gene '{gene.name}' of type {type(gene).__name__}")

    def to_value(self, parameter: Any) -> Any:
        return self.values[int(parameter)] if self.values is not None else parameter

    def to_parameter(self, value: Any) -> Any:
        if self.values is None:
            return value
        for index, choice in enumerate(self.values):
            if type(choice) is type(value) and choice == value:
                return index
        raise ValueError(f"{value!r} is not a value of gene '{self.gene.name}'")


def make_sampler(settings: OptunaSettings, seed: int) -> Any:
    """Build the Optuna sampler named in `settings`, passing the seed when its constructor takes one."""
    import optuna

    sampler_class = getattr(optuna.samplers, settings.sampler)
    options = dict(settings.sampler_options)
    if "seed" in inspect.signature(sampler_class.__init__).parameters:
        options.setdefault("seed", seed)
    return sampler_class(**options)


class OptunaStrategy(Strategy):
    """Ask/tell over an Optuna multi-objective study (every objective minimized)."""

    def __init__(self, space: SearchSpace, n_objectives: int, seed: int, settings: OptunaSettings | None = None) -> None:
        import optuna

        super().__init__(space, n_objectives, seed)
        self.settings = settings or OptunaSettings()
        # NOTE: this lowers Optuna's own logger for the whole process, because
        # Optuna logs every finished trial at INFO.
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.mappings = {name: _GeneMapping(gene) for name, gene in space.genes.items()}
        self.distributions = {name: mapping.distribution for name, mapping in self.mappings.items()}
        self.study = optuna.create_study(
            directions=["minimize"] * n_objectives, sampler=make_sampler(self.settings, seed)
        )
        self.trials: dict[str, Any] = {}  # genome id -> its open Optuna trial
        self.known: dict[str, list[float] | None] = {}  # genome id -> values told (None when failed)
        self.repeats_told = 0
        self.invalid_told = 0

    def ask(self) -> Proposal:
        from optuna.trial import TrialState

        for _ in range(self.settings.max_retries):
            trial = self.study.ask(self.distributions)
            genome = Genome({name: self.mappings[name].to_value(trial.params[name]) for name in self.mappings})
            if not self.space.is_valid(genome):
                self.invalid_told += 1
                self.study.tell(trial, state=TrialState.FAIL)
                continue
            if genome.id in self.known and self.known[genome.id] is not None:
                self.repeats_told += 1
                self.study.tell(trial, self.known[genome.id])
                continue
            if genome.id in self.seen:
                self.study.tell(trial, state=TrialState.FAIL)
                continue
            return self._open(genome, trial, "optuna")
        genome = self._fresh_random(self.settings.max_retries)
        self.study.enqueue_trial({name: self.mappings[name].to_parameter(genome[name]) for name in self.mappings})
        return self._open(genome, self.study.ask(self.distributions), "random")

    def _open(self, genome: Genome, trial: Any, operator: str) -> Proposal:
        self.seen.add(genome.id)
        self.trials[genome.id] = trial
        return Proposal(genome=genome, operator=operator, info={"trial": trial.number})

    def tell(self, genome: Genome, values: np.ndarray | None) -> None:
        from optuna.trial import TrialState

        trial = self.trials.pop(genome.id, None)
        finite = values is not None and bool(np.all(np.isfinite(values)))
        self.known[genome.id] = [float(v) for v in values] if finite else None
        self.seen.add(genome.id)
        if trial is None:
            if finite:
                # A result this study did not ask for (e.g. replayed from a journal).
                import optuna

                params = {name: self.mappings[name].to_parameter(genome[name]) for name in self.mappings}
                self.study.add_trial(optuna.trial.create_trial(
                    params=params, distributions=self.distributions, values=[float(v) for v in values],
                ))
            return
        if finite:
            self.study.tell(trial, [float(v) for v in values])
        else:
            self.study.tell(trial, state=TrialState.FAIL)
