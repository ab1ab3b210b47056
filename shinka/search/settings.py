"""Settings of the `shinka` and `optuna` strategies, as the campaign file's `strategy.shinka` and `strategy.optuna`.

Every field has a default, so `strategy: {name: shinka}` is a complete
setting. The `shinka` defaults were compared on benchmarks/search_efficiency.py
(see docs/benchmarks.md). Adding the `front_model` operator raised the
hypervolume found at every budget there. Later, on seeds 5 to 12,
model_good_share 0.25 (from 0.05 to 0.4), model_probability 0.85 (from 0.5 to
0.95) and novelty_tries 100 (from 30) raised the median hypervolume at 100,
200 and 400 evaluations. Changing the islands, archive size, parent
selection, exponent, crossover probability, inspiration, bandit, reward or
novelty threshold one at a time gave no consistent gain, so those defaults
stayed.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shinka.search.operators import OPERATORS


class ShinkaSettings(BaseModel):
    """The island-model, steady-state controller of strategy `shinka`."""

    model_config = ConfigDict(extra="forbid")

    islands: int = Field(2, ge=1, description="islands, each with its own archive")
    archive_size: int = Field(40, ge=2, description="members kept per island (NSGA-II truncation beyond)")
    initial_random: int = Field(12, ge=1, description="first proposals drawn at random, spread over the islands")
    migration_interval: int = Field(20, ge=1, description="evaluations between migrations")
    migration_rate: float = Field(0.1, ge=0, le=1, description="share of an island's archive copied to the next island")
    parent_selection: Literal["power_law", "weighted", "hill_climbing"] = Field(
        "power_law", description="parent selection rule over Pareto rank and crowding distance"
    )
    power_law_exponent: float = Field(1.0, ge=0, description="power_law: P(position p) ~ (p + 1) ** -exponent; 0 is uniform")
    weighted_sharpness: float = Field(10.0, gt=0, description="weighted: slope of the sigmoid over the normalized score")
    hill_climbing_patience: int = Field(5, ge=1, description="hill_climbing: offspring of the best before moving on")
    crossover_probability: float = Field(0.5, ge=0, le=1, description="chance an offspring starts as a crossover with an inspiration")
    inspiration: Literal["top_k", "archive"] = Field(
        "top_k", description="where the crossover partner comes from: the island's top_k, or the global non-dominated archive"
    )
    top_k: int = Field(5, ge=1, description="top_k inspiration: members of the island eligible")
    operators: list[str] = Field(
        default_factory=lambda: list(OPERATORS),
        description="mutation operators the bandit chooses from (those whose genes the space lacks are dropped)",
    )
    model_good_share: float = Field(
        0.25, ge=0, le=1,
        description="front_model: share of evaluated genomes, best by Pareto rank and crowding, counted as good (at least 2)",
    )
    model_probability: float = Field(
        0.85, ge=0, le=1,
        description="chance an offspring is made by front_model without asking the bandit, times the share of genes "
        "front_model redraws (discrete, not per layer); 0 when front_model is not an operator",
    )
    bandit: Literal["ucb1", "thompson"] = Field("ucb1", description="operator selection bandit")
    bandit_exploration: float = Field(1.414, ge=0, description="ucb1: exploration constant c")
    reward: Literal["improvement", "gain"] = Field(
        "improvement",
        description="bandit reward: 1 when the offspring grew the hypervolume, or the growth relative to the hypervolume before",
    )
    reward_front: Literal["island", "global"] = Field(
        "island", description="hypervolume the reward is measured on: the offspring's island archive or every evaluated point"
    )
    novelty_threshold: float = Field(
        0.02, ge=0, le=1, description="reject an offspring whose distance to the nearest island member is below this"
    )
    novelty_tries: int = Field(100, ge=1, description="offspring drawn per proposal before falling back to a random genome")

    @field_validator("operators")
    @classmethod
    def _check_operators(cls, operators: list[str]) -> list[str]:
        unknown = [name for name in operators if name not in OPERATORS]
        if unknown:
            raise ValueError(f"unknown mutation operator '{unknown[0]}'; allowed: {', '.join(OPERATORS)}")
        if not operators:
            raise ValueError(f"at least one mutation operator is needed; allowed: {', '.join(OPERATORS)}")
        return operators


class OptunaSettings(BaseModel):
    """Strategy `optuna`: any Optuna sampler, driven through study.ask() and study.tell()."""

    model_config = ConfigDict(extra="forbid")

    sampler: str = Field("TPESampler", description="class name in optuna.samplers, e.g. NSGAIISampler, TPESampler, GPSampler")
    sampler_options: dict[str, Any] = Field(
        default_factory=dict, description="keyword arguments of the sampler (the seed comes from the campaign)"
    )
    max_retries: int = Field(100, ge=1, description="asks to find a valid, not yet evaluated genome before a random one")

    @field_validator("sampler")
    @classmethod
    def _check_sampler(cls, sampler: str) -> str:
        import optuna

        found = getattr(optuna.samplers, sampler, None)
        if not isinstance(found, type) or not issubclass(found, optuna.samplers.BaseSampler):
            names = sorted(
                name for name in dir(optuna.samplers)
                if isinstance(getattr(optuna.samplers, name), type)
                and issubclass(getattr(optuna.samplers, name), optuna.samplers.BaseSampler)
                and name != "BaseSampler"
            )
            raise ValueError(f"unknown Optuna sampler '{sampler}'; allowed: {', '.join(names)}")
        return sampler
