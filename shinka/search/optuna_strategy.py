"""Strategy `optuna`: any Optuna sampler, driven through study.ask() and study.tell().

Genes map to Optuna distributions by position, so choices of mixed types work:

- a categorical gene whose choices are numbers in increasing or decreasing
  order becomes an IntDistribution over the choice index (the sampler sees
  the order); any other categorical gene becomes a CategoricalDistribution
  over the choice index;
- an int gene becomes an IntDistribution (over the value index when it is
  both log-scaled and stepped, which Optuna does not allow);
- a float gene becomes a FloatDistribution;
- a per-layer gene becomes one parameter per active layer, named
  `GENE[i]` with the element gene's distribution. The layer count is sampled
  first, so only the active layers are asked for (define-by-run), and the
  inactive elements take the space's canonical value.

A proposal that breaks a space constraint is told to Optuna as infeasible and
asked again. A repeat of an evaluated genome is told its known values and
asked again, so it costs no evaluation. After `max_retries` such asks, a fresh
random genome is enqueued and asked instead.

Samplers skip FAIL trials, so a sampler told only FAIL keeps proposing the
same invalid genome (TPE on a constrained space did so for hundreds of asks in
a row). An infeasible trial (a broken space constraint, a failed evaluation or
`tell_infeasible`) is therefore told as COMPLETE with penalty values, worse than
every evaluated point in each objective (see `penalty_values`), and marked as
violating a constraint, which constraint-aware samplers (TPESampler,
NSGAIISampler, GPSampler) rank below every feasible trial. The mark is
`Trial.set_constraint` from Optuna 5.0, and before that a user attribute read
by the sampler's `constraints_func`. Before any point has values the trial is
told FAIL.
"""

from __future__ import annotations

import inspect
import logging
import warnings
from typing import Any

import numpy as np

from shinka.search.base import Proposal, Strategy
from shinka.search.settings import OptunaSettings
from shinka.space.genes import CategoricalGene, FloatGene, Gene, IntGene, PerLayerGene, all_values
from shinka.space.genome import Genome
from shinka.space.search_space import SearchSpace, first_value

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


def _suggest(trial: Any, name: str, distribution: Any) -> Any:
    """Ask `trial` for parameter `name` from `distribution` through the public suggest API."""
    import optuna.distributions as dist

    if isinstance(distribution, dist.CategoricalDistribution):
        return trial.suggest_categorical(name, distribution.choices)
    if isinstance(distribution, dist.IntDistribution):
        return trial.suggest_int(name, distribution.low, distribution.high, step=distribution.step, log=distribution.log)
    return trial.suggest_float(name, distribution.low, distribution.high, log=distribution.log)


def element_parameter(name: str, layer: int) -> str:
    """Return the Optuna parameter name of layer `layer` of per-layer gene `name`."""
    return f"{name}[{layer}]"


VIOLATION_ATTRIBUTE = "shinka_violation"  # Optuna < 5.0: read by constraints_func
CONSTRAINT_NAME = "shinka_feasible"  # Optuna >= 5.0: the Trial.set_constraint key


def _has_set_constraint() -> bool:
    import optuna

    return hasattr(optuna.trial.Trial, "set_constraint")


_HAS_SET_CONSTRAINT = _has_set_constraint()


def trial_violation(trial: Any) -> tuple[float]:
    """Return the trial's constraint violation for Optuna's `constraints_func` (> 0 is infeasible)."""
    return (float(trial.user_attrs.get(VIOLATION_ATTRIBUTE, 0.0)),)


def penalty_values(worst: np.ndarray, best: np.ndarray) -> list[float]:
    """Return values worse than `worst` in every objective: worst + (worst - best), or worst + max(1, |worst|)."""
    span = worst - best
    margin = np.where(span > 0, span, np.maximum(np.abs(worst), 1.0))
    return [float(v) for v in worst + margin]


def make_sampler(settings: OptunaSettings, seed: int) -> Any:
    """Build the Optuna sampler named in `settings`, passing the seed and `constraints_func` where it takes them.

    Options the user sets in `sampler_options` win over these defaults.
    """
    import optuna

    sampler_class = getattr(optuna.samplers, settings.sampler)
    options = dict(settings.sampler_options)
    parameters = inspect.signature(sampler_class.__init__).parameters
    if "seed" in parameters:
        options.setdefault("seed", seed)
    if "constraints_func" in parameters and not _HAS_SET_CONSTRAINT:
        options.setdefault("constraints_func", trial_violation)
    if "warn_independent_sampling" in parameters and "warn_independent_sampling" not in options:
        # Per-layer genes make the search space dynamic by design, and samplers
        # that model a fixed space (GPSampler, multivariate TPE) warn on every
        # such parameter otherwise. TPESampler deprecates the option (Optuna
        # 4.9) with a FutureWarning, which is not the user's concern here.
        options["warn_independent_sampling"] = False
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            return sampler_class(**options)
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
        # Scalar genes form one fixed search space. Per-layer genes map their
        # element gene and are asked layer by layer.
        self.mappings: dict[str, _GeneMapping] = {}
        self.layer_mappings: dict[str, _GeneMapping] = {}
        for name, gene in space.genes.items():
            if isinstance(gene, PerLayerGene):
                self.layer_mappings[name] = _GeneMapping(gene.element)
            else:
                self.mappings[name] = _GeneMapping(gene)
        self.distributions = {name: mapping.distribution for name, mapping in self.mappings.items()}
        self.study = optuna.create_study(
            directions=["minimize"] * n_objectives, sampler=make_sampler(self.settings, seed)
        )
        self.trials: dict[str, Any] = {}  # genome id -> its open Optuna trial
        self.known: dict[str, list[float] | None] = {}  # genome id -> values told (None when failed)
        self.repeats_told = 0
        self.invalid_told = 0
        self.worst: np.ndarray | None = None  # per objective, over every finite value told
        self.best: np.ndarray | None = None

    def ask(self) -> Proposal:
        from optuna.trial import TrialState

        for _ in range(self.settings.max_retries):
            trial = self.study.ask(self.distributions)
            genome = self._genome_of(trial)
            if not self.space.is_valid(genome):
                self.invalid_told += 1
                self._tell_infeasible_trial(trial)
                continue
            if genome.id in self.known:
                # A repeat costs no evaluation: it gets the known result again.
                self.repeats_told += 1
                if self.known[genome.id] is None:
                    self._tell_infeasible_trial(trial)
                else:
                    self.study.tell(trial, self.known[genome.id])
                continue
            if genome.id in self.seen:
                # Still being evaluated: the sampler learns nothing from it yet.
                self.study.tell(trial, state=TrialState.FAIL)
                continue
            return self._open(genome, trial, "optuna")
        genome = self._fresh_random(self.settings.max_retries)
        self.study.enqueue_trial(self._parameters_of(genome)[0])
        trial = self.study.ask(self.distributions)
        self._genome_of(trial)  # asks the enqueued per-layer parameters too
        return self._open(genome, trial, "random")

    def _genome_of(self, trial: Any) -> Genome:
        """Read the genome from `trial`, asking for the active layers of every per-layer gene."""
        values = {name: mapping.to_value(trial.params[name]) for name, mapping in self.mappings.items()}
        if self.layer_mappings:
            active = self.space.active_layers(self.space.values_of(values))
            for name, mapping in self.layer_mappings.items():
                gene = self.space.genes[name]
                used = min(active, gene.length)
                elements = [
                    mapping.to_value(_suggest(trial, element_parameter(name, layer), mapping.distribution))
                    for layer in range(used)
                ]
                values[name] = elements + [first_value(gene.element)] * (gene.length - used)
        return self.space.canonical(values)

    def _parameters_of(self, genome: Genome) -> tuple[dict[str, Any], dict[str, Any]]:
        """Return the Optuna parameters and distributions that stand for `genome` (active layers only)."""
        params = {name: mapping.to_parameter(genome[name]) for name, mapping in self.mappings.items()}
        distributions = dict(self.distributions)
        if self.layer_mappings:
            active = self.space.active_layers(self.space.values_of(genome))
            for name, mapping in self.layer_mappings.items():
                for layer in range(min(active, len(genome[name]))):
                    parameter = element_parameter(name, layer)
                    params[parameter] = mapping.to_parameter(genome[name][layer])
                    distributions[parameter] = mapping.distribution
        return params, distributions

    def _open(self, genome: Genome, trial: Any, operator: str) -> Proposal:
        self.seen.add(genome.id)
        self.trials[genome.id] = trial
        return Proposal(genome=genome, operator=operator, info={"trial": trial.number})

    def _tell_infeasible_trial(self, trial: Any) -> None:
        from optuna.trial import TrialState

        if self.worst is None or self.best is None:
            self.study.tell(trial, state=TrialState.FAIL)
            return
        if _HAS_SET_CONSTRAINT:
            trial.set_constraint(CONSTRAINT_NAME, 1.0)
        else:
            trial.set_user_attr(VIOLATION_ATTRIBUTE, 1.0)
        self.study.tell(trial, penalty_values(self.worst, self.best))

    def tell_infeasible(self, genome: Genome) -> None:
        """Tell Optuna that a proposed genome broke a hard constraint (see the module docstring)."""
        trial = self.trials.pop(genome.id, None)
        self.known[genome.id] = None
        self.seen.add(genome.id)
        if trial is not None:
            self._tell_infeasible_trial(trial)

    def tell(self, genome: Genome, values: np.ndarray | None) -> None:
        trial = self.trials.pop(genome.id, None)
        finite = values is not None and bool(np.all(np.isfinite(values)))
        self.known[genome.id] = [float(v) for v in values] if finite else None
        self.seen.add(genome.id)
        if finite:
            point = np.asarray(values, dtype=float)
            self.worst = point.copy() if self.worst is None else np.maximum(self.worst, point)
            self.best = point.copy() if self.best is None else np.minimum(self.best, point)
        if trial is None:
            if finite:
                # A result this study did not ask for (e.g. replayed from a journal).
                import optuna

                params, distributions = self._parameters_of(genome)
                self.study.add_trial(optuna.trial.create_trial(
                    params=params, distributions=distributions, values=[float(v) for v in values],
                ))
            return
        if finite:
            self.study.tell(trial, [float(v) for v in values])
        else:
            self._tell_infeasible_trial(trial)
