"""Multi-armed bandits that pick a variation operator: UCB1 and Thompson sampling.

Rewards are in [0, 1]. Both bandits play every arm once before using their
statistics, and draw all randomness from the caller's seeded generator.
"""

from __future__ import annotations

import math
import random
from typing import Sequence

BANDITS = ("ucb1", "thompson")


class Bandit:
    """Counts and reward sums per arm; subclasses choose the next arm."""

    def __init__(self, arms: Sequence[str], rng: random.Random) -> None:
        if not arms:
            raise ValueError("a bandit needs at least one arm")
        self.arms = list(arms)
        self.rng = rng
        self.pulls = {arm: 0 for arm in self.arms}
        self.rewards = {arm: 0.0 for arm in self.arms}

    def choose(self) -> str:
        raise NotImplementedError

    def update(self, arm: str, reward: float) -> None:
        """Record a reward in [0, 1] for `arm` (values outside are clipped)."""
        self.pulls[arm] += 1
        self.rewards[arm] += min(1.0, max(0.0, float(reward)))

    def mean(self, arm: str) -> float:
        return self.rewards[arm] / self.pulls[arm] if self.pulls[arm] else 0.0

    def _untried(self) -> str | None:
        untried = [arm for arm in self.arms if self.pulls[arm] == 0]
        return self.rng.choice(untried) if untried else None


class UCB1(Bandit):
    """UCB1 (Auer et al. 2002): the arm with the highest mean + c * sqrt(ln N / n)."""

    def __init__(self, arms: Sequence[str], rng: random.Random, exploration: float = math.sqrt(2)) -> None:
        super().__init__(arms, rng)
        self.exploration = exploration

    def choose(self) -> str:
        untried = self._untried()
        if untried is not None:
            return untried
        total = sum(self.pulls.values())
        scores = {
            arm: self.mean(arm) + self.exploration * math.sqrt(math.log(total) / self.pulls[arm])
            for arm in self.arms
        }
        best = max(scores.values())
        return self.rng.choice([arm for arm in self.arms if scores[arm] == best])


class Thompson(Bandit):
    """Thompson sampling with a Beta(1 + rewards, 1 + failures) posterior per arm."""

    def choose(self) -> str:
        untried = self._untried()
        if untried is not None:
            return untried
        draws = {
            arm: self.rng.betavariate(1.0 + self.rewards[arm], 1.0 + self.pulls[arm] - self.rewards[arm])
            for arm in self.arms
        }
        return max(self.arms, key=lambda arm: draws[arm])


def make_bandit(name: str, arms: Sequence[str], rng: random.Random, exploration: float = math.sqrt(2)) -> Bandit:
    """Build the bandit named `name` ("ucb1" or "thompson")."""
    if name == "ucb1":
        return UCB1(arms, rng, exploration)
    if name == "thompson":
        return Thompson(arms, rng)
    raise ValueError(f"unknown bandit '{name}'; allowed: {', '.join(BANDITS)}")
