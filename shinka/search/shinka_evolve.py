"""Strategy `shinka`: a steady-state, asynchronous island controller in the style of ShinkaEvolve.

Each `ask` serves the next island in turn and returns at once, so any number
of proposals may be outstanding and a free worker never waits for a
generation. The first `initial_random` proposals are random. After that an
offspring is made by:

1. choosing a parent on the island (selection.py: power_law, weighted or
   hill_climbing over Pareto rank, then crowding distance),
2. with `crossover_probability`, a uniform crossover with an inspiration (one
   of the island's top_k members, or a member of the global non-dominated
   archive),
3. one mutation operator (operators.py): with `model_probability` times
   the share of genes that front_model can redraw (discrete, not per layer),
   front_model (each discrete gene redrawn from a TPE-like model whose good
   set is the best `model_good_share` of all evaluated genomes), otherwise
   one picked by a bandit (bandit.py); both paths reward the operator's arm,
4. novelty rejection (novelty.py): a repeat, or an offspring too close to its
   nearest island member, is redrawn, up to `novelty_tries` draws, and then a
   fresh random genome is proposed instead.

`tell` adds the result to the island the proposal came from and rewards the
operator by the hypervolume gain it produced (hypervolume.py normalization,
bounds from every point evaluated so far). Every `migration_interval`
evaluations, islands pass copies of front members along a ring.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np

from shinka.search import pareto
from shinka.search.bandit import make_bandit
from shinka.search.base import Proposal, Strategy
from shinka.search.hypervolume import bounds_of, hypervolume_gain, normalized_hypervolume
from shinka.search.islands import Island, Member, migrate
from shinka.search.novelty import rejection_reason
from shinka.search.operators import ArchiveView, apply_operator, available_operators, model_gene_share
from shinka.search.selection import rank_positions, select_parent
from shinka.search.settings import ShinkaSettings
from shinka.search.variation import uniform_crossover
from shinka.space.genome import Genome
from shinka.space.search_space import SearchSpace

logger = logging.getLogger(__name__)


@dataclass
class _Pending:
    island: int
    operator: str  # "random" for a random proposal
    parent: str | None


class ShinkaEvolve(Strategy):
    """Island-model evolution with bandit operator selection and novelty rejection (see the module docstring)."""

    def __init__(self, space: SearchSpace, n_objectives: int, seed: int, settings: ShinkaSettings | None = None) -> None:
        super().__init__(space, n_objectives, seed)
        self.settings = settings or ShinkaSettings()
        s = self.settings
        self.islands = [Island(index, s.archive_size) for index in range(s.islands)]
        self.operators = available_operators(space, s.operators) or ["resample"]
        # front_model leaves float and per-layer genes alone. So it makes offspring directly only in
        # proportion to the genes it can redraw, and the bandit picks the operator for the rest.
        self._model_probability = s.model_probability * model_gene_share(space) if "front_model" in self.operators else 0.0
        self.bandit = make_bandit(s.bandit, self.operators, self.rng, s.bandit_exploration)
        self.asked = 0
        self.evaluated = 0
        self.pending: dict[str, _Pending] = {}
        self.all_values: list[np.ndarray] = []
        self.all_genomes: list[Genome] = []
        self._front_cache: list[Genome] | None = None
        self._good_cache: list[Genome] | None = None
        self._view_cache: ArchiveView | None = None
        self.rejections = {"duplicate": 0, "too_close": 0, "invalid": 0, "not_applicable": 0}
        self.random_fallbacks = 0
        self.migrations = 0
        logger.debug("shinka strategy: operators %s, settings %s", self.operators, s.model_dump())

    # -- ask ------------------------------------------------------------------

    def ask(self) -> Proposal:
        island_index = self.asked % len(self.islands)
        self.asked += 1
        island = self.islands[island_index]
        if self.asked <= self.settings.initial_random or len(island) == 0:
            return self._random_proposal(island_index)
        proposal = self._offspring(island)
        if proposal is None:
            self.random_fallbacks += 1
            return self._random_proposal(island_index)
        return proposal

    def _random_proposal(self, island_index: int) -> Proposal:
        genome = self._fresh_random(max(100, self.settings.novelty_tries))
        self.seen.add(genome.id)
        self.pending[genome.id] = _Pending(island_index, "random", None)
        return Proposal(genome=genome, operator="random", info={"island": island_index})

    def _offspring(self, island: Island) -> Proposal | None:
        s = self.settings
        positions = island.positions()
        offspring_counts = [member.offspring for member in island.members]
        members = [member.genome for member in island.members]
        for _ in range(s.novelty_tries):
            parent_index = select_parent(
                s.parent_selection, positions, offspring_counts, self.rng,
                exponent=s.power_law_exponent, sharpness=s.weighted_sharpness, patience=s.hill_climbing_patience,
            )
            parent = island.members[parent_index]
            child = parent.genome
            parents = [parent.genome.id]
            if self.rng.random() < s.crossover_probability:
                partner = self._inspiration(island)
                if partner is not None and partner.id != child.id:
                    child = uniform_crossover(child, partner, self.rng)
                    parents.append(partner.id)
            if self.rng.random() < self._model_probability:
                operator = "front_model"
            else:
                operator = self.bandit.choose()
            mutated = apply_operator(operator, child, self.space, self.rng, self._archive_view())
            if mutated is None:
                self.rejections["not_applicable"] += 1
                continue
            if not self.space.is_valid(mutated):
                self.rejections["invalid"] += 1
                continue
            reason = rejection_reason(self.space, mutated, self.seen, members, s.novelty_threshold)
            if reason is not None:
                self.rejections[reason] += 1
                continue
            parent.offspring += 1
            self.seen.add(mutated.id)
            self.pending[mutated.id] = _Pending(island.index, operator, parent.genome.id)
            operator_name = operator if len(parents) == 1 else f"crossover+{operator}"
            return Proposal(genome=mutated, parents=tuple(parents), operator=operator_name, info={"island": island.index})
        return None

    def _inspiration(self, island: Island) -> Genome | None:
        if self.settings.inspiration == "top_k":
            top = island.top(self.settings.top_k)
            return self.rng.choice(top).genome if top else None
        front = self._global_front()
        return self.rng.choice(front) if front else None

    def _global_front(self) -> list[Genome]:
        if self._front_cache is None:
            if not self.all_values:
                return []
            mask = pareto.non_dominated_mask(np.stack(self.all_values))
            self._front_cache = [genome for genome, on_front in zip(self.all_genomes, mask) if on_front]
        return self._front_cache

    def _good_set(self) -> list[Genome]:
        """Return the first max(2, ceil(model_good_share * n)) of the n evaluated genomes by Pareto rank, then crowding distance."""
        if self._good_cache is None:
            if not self.all_values:
                return []
            positions = rank_positions(np.stack(self.all_values))
            count = max(2, math.ceil(self.settings.model_good_share * len(positions)))
            self._good_cache = [genome for genome, position in zip(self.all_genomes, positions) if position < count]
        return self._good_cache

    def _archive_view(self) -> ArchiveView:
        if self._view_cache is None:
            self._view_cache = ArchiveView(front=self._global_front(), evaluated=self.all_genomes, good=self._good_set())
        return self._view_cache

    # -- tell -----------------------------------------------------------------

    def tell(self, genome: Genome, values: np.ndarray | None) -> None:
        pending = self.pending.pop(genome.id, None)
        self.seen.add(genome.id)
        if pending is None:
            # A result this strategy did not propose (e.g. replayed from a journal).
            pending = _Pending(self.evaluated % len(self.islands), "random", None)
        self.evaluated += 1
        finite = values is not None and bool(np.all(np.isfinite(values)))
        if not finite:
            self._reward(pending.operator, 0.0)
            self._maybe_migrate()
            return
        point = np.asarray(values, dtype=float)
        island = self.islands[pending.island]
        self._reward(pending.operator, self._reward_value(island, point))
        self.all_values.append(point)
        self.all_genomes.append(genome)
        self._front_cache = None
        self._good_cache = None
        self._view_cache = None
        island.add(Member(genome=genome, values=point))
        self._maybe_migrate()

    def tell_infeasible(self, genome: Genome) -> None:
        """Record a genome rejected before evaluation: its operator earns reward 0 and no archive changes."""
        pending = self.pending.pop(genome.id, None)
        self.seen.add(genome.id)
        if pending is not None:
            self._reward(pending.operator, 0.0)

    def _reward_value(self, island: Island, point: np.ndarray) -> float:
        everything = np.vstack(self.all_values + [point])
        ideal, nadir = bounds_of(everything)
        if self.settings.reward_front == "global":
            archive = np.stack(self.all_values) if self.all_values else np.zeros((0, len(point)))
        else:
            archive = island.values() if len(island) else np.zeros((0, len(point)))
        gain = hypervolume_gain(archive, point, ideal, nadir)
        self._last_gain = gain
        if self.settings.reward == "improvement":
            return 1.0 if gain > 1e-12 else 0.0
        before = normalized_hypervolume(archive, ideal, nadir) if len(archive) else 0.0
        return gain / (before + gain) if gain > 0 else 0.0

    def _reward(self, operator: str, reward: float) -> None:
        if operator in self.bandit.pulls:
            self.bandit.update(operator, reward)

    def _maybe_migrate(self) -> None:
        if len(self.islands) > 1 and self.evaluated % self.settings.migration_interval == 0:
            self.migrations += 1
            migrate(self.islands, self.settings.migration_rate, self.rng)

    def statistics(self) -> dict[str, float]:
        """Return counters for logging: rejections by reason, random fallbacks, migrations and bandit pulls."""
        stats: dict[str, float] = {f"rejected_{reason}": count for reason, count in self.rejections.items()}
        stats["random_fallbacks"] = self.random_fallbacks
        stats["migrations"] = self.migrations
        for arm in self.bandit.arms:
            stats[f"pulls_{arm}"] = self.bandit.pulls[arm]
            stats[f"mean_reward_{arm}"] = self.bandit.mean(arm)
        return stats
