"""Islands: separate bounded archives that evolve apart and exchange copies of good members.

Each island keeps at most `capacity` members. When a new member overflows it,
NSGA-II truncation (rank, then crowding distance) drops the worst, so the
island's non-dominated members stay unless they alone exceed the capacity.
Migration copies members along a ring (island i to island i + 1): the
source keeps its elites, and a copy that the target already holds is skipped.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np

from shinka.search import pareto
from shinka.search.selection import rank_positions
from shinka.space.genome import Genome


@dataclass
class Member:
    """An evaluated genome in an island archive, with its minimization values."""

    genome: Genome
    values: np.ndarray
    offspring: int = 0  # offspring proposed from this member on this island
    migrant: bool = False  # True for a copy received from another island


class Island:
    """A bounded archive of evaluated genomes with cached positions for parent selection."""

    def __init__(self, index: int, capacity: int) -> None:
        self.index = index
        self.capacity = capacity
        self.members: list[Member] = []
        self._positions: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.members)

    def ids(self) -> list[str]:
        return [member.genome.id for member in self.members]

    def values(self) -> np.ndarray:
        """Return the (n, m) minimization values of the members (an empty (0, 0) array when none)."""
        if not self.members:
            return np.zeros((0, 0))
        return np.stack([member.values for member in self.members])

    def positions(self) -> np.ndarray:
        """Return each member's position by Pareto rank, then crowding distance (0 is the best)."""
        if self._positions is None:
            self._positions = rank_positions(self.values()) if self.members else np.zeros(0, dtype=np.int64)
        return self._positions

    def add(self, member: Member) -> bool:
        """Add `member` unless its genome is already here; truncate to capacity. Return True when added."""
        if member.genome.id in self.ids():
            return False
        self.members.append(member)
        if len(self.members) > self.capacity:
            keep = sorted(pareto.select_nsga2(self.values(), self.capacity).tolist())
            self.members = [self.members[i] for i in keep]
        self._positions = None
        return True

    def top(self, k: int) -> list[Member]:
        """Return the `k` best-placed members, best first."""
        order = np.argsort(self.positions(), kind="stable")[:k]
        return [self.members[i] for i in order]

    def front(self) -> list[Member]:
        """Return the island's non-dominated members, in archive order."""
        if not self.members:
            return []
        mask = pareto.non_dominated_mask(self.values())
        return [member for member, on_front in zip(self.members, mask) if on_front]


def migrate(islands: list[Island], rate: float, rng: random.Random) -> int:
    """Copy round(rate * size) members (at least 1) of each island's front to the next island on the ring.

    Migrants are drawn uniformly from the source's non-dominated members; the
    source keeps them. Return the number of copies added.
    """
    if len(islands) < 2:
        return 0
    outgoing = []
    for island in islands:
        front = island.front()
        count = min(len(front), max(1, round(rate * len(island)))) if front else 0
        outgoing.append(rng.sample(front, count) if count else [])
    added = 0
    for source, migrants in enumerate(outgoing):
        target = islands[(source + 1) % len(islands)]
        for member in migrants:
            copy = Member(genome=member.genome, values=member.values.copy(), offspring=0, migrant=True)
            added += int(target.add(copy))
    return added
