"""Gene types: the named, typed coordinates of a search space.

A gene knows its domain: how to sample a value, test membership, step to a
neighbouring value, and measure a normalized distance between two values. A
per-layer gene contains a list with one element per layer, each element drawn
from an element gene, so generic strategies handle it like any other gene.
"""

from __future__ import annotations

import itertools
import math
import random
from dataclasses import dataclass
from typing import Any, Sequence

from shinka.errors import UserError


@dataclass(frozen=True)
class Gene:
    """Base class of all genes; `name` is the key in a genome."""

    name: str

    def sample(self, rng: random.Random) -> Any:
        raise NotImplementedError

    def contains(self, value: Any) -> bool:
        raise NotImplementedError

    def neighbour(self, value: Any, rng: random.Random) -> Any:
        """Return a value one step away from `value` (itself when the domain has one value)."""
        raise NotImplementedError

    def distance(self, a: Any, b: Any) -> float:
        """Return the distance between two values, normalized to [0, 1]."""
        raise NotImplementedError

    def cardinality(self) -> int | None:
        """Return the number of distinct values, or None for a continuous domain."""
        raise NotImplementedError

    def describe(self) -> str:
        raise NotImplementedError


@dataclass(frozen=True)
class CategoricalGene(Gene):
    """A gene with an explicit, ordered list of choices; neighbours are adjacent choices."""

    choices: tuple[Any, ...] = ()

    def sample(self, rng: random.Random) -> Any:
        return self.choices[rng.randrange(len(self.choices))]

    def contains(self, value: Any) -> bool:
        return any(_same_value(value, choice) for choice in self.choices)

    def index(self, value: Any) -> int:
        for i, choice in enumerate(self.choices):
            if _same_value(value, choice):
                return i
        raise ValueError(f"{value!r} is not a choice of gene {self.name!r}")

    def neighbour(self, value: Any, rng: random.Random) -> Any:
        if len(self.choices) == 1:
            return value
        i = self.index(value)
        candidates = [j for j in (i - 1, i + 1) if 0 <= j < len(self.choices)]
        return self.choices[rng.choice(candidates)]

    def distance(self, a: Any, b: Any) -> float:
        if len(self.choices) == 1:
            return 0.0
        if all(isinstance(c, (int, float)) and not isinstance(c, bool) for c in self.choices):
            return abs(self.index(a) - self.index(b)) / (len(self.choices) - 1)
        return 0.0 if _same_value(a, b) else 1.0

    def cardinality(self) -> int:
        return len(self.choices)

    def describe(self) -> str:
        return "one of " + ", ".join(str(c) for c in self.choices)


@dataclass(frozen=True)
class IntGene(Gene):
    """An integer gene on [low, high] with a step; `log` samples uniformly in log space."""

    low: int = 0
    high: int = 0
    step: int = 1
    log: bool = False

    def _values_count(self) -> int:
        return (self.high - self.low) // self.step + 1

    def sample(self, rng: random.Random) -> int:
        if self.log:
            raw = math.exp(rng.uniform(math.log(self.low), math.log(self.high)))
            return self._snap(raw)
        return self.low + self.step * rng.randrange(self._values_count())

    def _snap(self, raw: float) -> int:
        k = round((raw - self.low) / self.step)
        k = min(max(k, 0), self._values_count() - 1)
        return self.low + self.step * k

    def contains(self, value: Any) -> bool:
        if isinstance(value, bool) or not isinstance(value, int):
            return False
        return self.low <= value <= self.high and (value - self.low) % self.step == 0

    def neighbour(self, value: Any, rng: random.Random) -> int:
        candidates = [v for v in (value - self.step, value + self.step) if self.contains(v)]
        return rng.choice(candidates) if candidates else value

    def distance(self, a: Any, b: Any) -> float:
        span = self.high - self.low
        return abs(a - b) / span if span else 0.0

    def cardinality(self) -> int:
        return self._values_count()

    def describe(self) -> str:
        step = f" step {self.step}" if self.step != 1 else ""
        return f"integer in [{self.low}, {self.high}]{step}"


@dataclass(frozen=True)
class FloatGene(Gene):
    """A real-valued gene on [low, high]; `log` samples uniformly in log space."""

    low: float = 0.0
    high: float = 1.0
    log: bool = False

    def sample(self, rng: random.Random) -> float:
        if self.log:
            return math.exp(rng.uniform(math.log(self.low), math.log(self.high)))
        return rng.uniform(self.low, self.high)

    def contains(self, value: Any) -> bool:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        return self.low <= value <= self.high

    def neighbour(self, value: Any, rng: random.Random) -> float:
        # A Gaussian step of a tenth of the range, clipped to the domain.
        width = 0.1 * (self.high - self.low)
        return min(max(value + rng.gauss(0.0, width), self.low), self.high)

    def distance(self, a: Any, b: Any) -> float:
        span = self.high - self.low
        return abs(a - b) / span if span else 0.0

    def cardinality(self) -> None:
        return None

    def describe(self) -> str:
        scale = " (log scale)" if self.log else ""
        return f"real in [{self.low}, {self.high}]{scale}"


@dataclass(frozen=True)
class PerLayerGene(Gene):
    """A list of `length` values, one per layer, each from the `element` gene's domain.

    In a transformer space `length` is the largest n_layer the space allows.
    The elements past a genome's n_layer are inactive, so the model ignores
    them and SearchSpace.canonical resets them. Values are lists, so genomes
    stay JSON-serializable and their ids stable.
    """

    element: Gene = None  # type: ignore[assignment]
    length: int = 1

    def sample(self, rng: random.Random) -> list[Any]:
        return [self.element.sample(rng) for _ in range(self.length)]

    def contains(self, value: Any) -> bool:
        if not isinstance(value, (list, tuple)) or len(value) != self.length:
            return False
        return all(self.element.contains(item) for item in value)

    def neighbour(self, value: Any, rng: random.Random) -> list[Any]:
        """Return `value` with one random layer's element moved to a neighbouring value."""
        result = list(value)
        layer = rng.randrange(self.length)
        result[layer] = self.element.neighbour(result[layer], rng)
        return result

    def distance(self, a: Any, b: Any) -> float:
        """Return the mean element distance over all layers, in [0, 1]."""
        return sum(self.element.distance(x, y) for x, y in zip(a, b)) / self.length

    def cardinality(self) -> int | None:
        size = self.element.cardinality()
        return None if size is None else size**self.length

    def describe(self) -> str:
        return f"per layer ({self.length}): {self.element.describe()}"


def _same_value(a: Any, b: Any) -> bool:
    # YAML gives 1 and 1.0 as different types; bool is an int subclass in Python.
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    return a == b


def gene_from_spec(name: str, spec: Any, *, file: str | None = None, layers: int | None = None) -> Gene:
    """Build a gene from its YAML form.

    Accepted forms: a list of choices; `{choices: [...]}`;
    `{type: int, low: L, high: H, step: S, log: false}`;
    `{type: float, low: L, high: H, log: false}`. Any mapping form may add
    `per_layer: true` for one value per layer: the list length is `length:` when
    given, else `layers` (the space's largest layer count).
    """
    field = f"genes.{name}"
    if isinstance(spec, list):
        spec = {"choices": spec}
    if not isinstance(spec, dict):
        raise UserError(
            "invalid gene declaration",
            file=file,
            field=field,
            value=spec,
            allowed="a list of choices or a mapping with 'choices' or 'type: int|float, low, high'",
        )
    if spec.get("per_layer", False) is not False:
        return _per_layer_gene(name, spec, file=file, layers=layers)
    if "length" in spec:
        raise UserError(
            "'length' needs 'per_layer: true'", file=file, field=f"{field}.length",
            value=spec["length"], allowed="per_layer: true together with length",
        )
    known = {"type", "choices", "low", "high", "step", "log", "description", "per_layer"}
    unknown = sorted(set(spec) - known)
    if unknown:
        raise UserError(
            "unknown key in gene declaration",
            file=file,
            field=f"{field}.{unknown[0]}",
            value=unknown[0],
            allowed=", ".join(sorted(known)),
        )
    kind = spec.get("type", "categorical" if "choices" in spec else None)
    if kind == "categorical":
        choices = spec.get("choices")
        if not isinstance(choices, list) or not choices:
            raise UserError(
                "a categorical gene needs a non-empty list of choices",
                file=file,
                field=f"{field}.choices",
                value=choices,
                allowed="a non-empty list",
            )
        if len({repr(c) for c in choices}) != len(choices):
            raise UserError(
                "duplicate choice", file=file, field=f"{field}.choices", value=choices,
                allowed="distinct values",
            )
        return CategoricalGene(name=name, choices=tuple(choices))
    if kind in ("int", "float"):
        low, high = spec.get("low"), spec.get("high")
        number = int if kind == "int" else (int, float)
        for key, bound in (("low", low), ("high", high)):
            if isinstance(bound, bool) or not isinstance(bound, number):
                raise UserError(
                    f"missing or invalid bound for a {kind} gene",
                    file=file,
                    field=f"{field}.{key}",
                    value=bound,
                    allowed=f"a {kind} number",
                )
        if low > high:
            raise UserError(
                "low is above high", file=file, field=f"{field}.low", value=low,
                allowed=f"at most high ({high})",
            )
        log = bool(spec.get("log", False))
        if log and low <= 0:
            raise UserError(
                "a log-scale gene needs a positive low bound",
                file=file, field=f"{field}.low", value=low, allowed="> 0",
            )
        if kind == "int":
            step = spec.get("step", 1)
            if isinstance(step, bool) or not isinstance(step, int) or step < 1:
                raise UserError(
                    "invalid step", file=file, field=f"{field}.step", value=step,
                    allowed="an integer >= 1",
                )
            return IntGene(name=name, low=low, high=high, step=step, log=log)
        return FloatGene(name=name, low=float(low), high=float(high), log=log)
    raise UserError(
        "unknown gene type",
        file=file,
        field=f"{field}.type",
        value=kind,
        allowed="categorical, int, float",
    )


def _per_layer_gene(name: str, spec: dict, *, file: str | None, layers: int | None) -> PerLayerGene:
    field = f"genes.{name}"
    if spec["per_layer"] is not True:
        raise UserError(
            "invalid per_layer flag", file=file, field=f"{field}.per_layer",
            value=spec["per_layer"], allowed="true or false",
        )
    length = spec.get("length", layers)
    if isinstance(length, bool) or not isinstance(length, int) or length < 1:
        raise UserError(
            "a per-layer gene needs a layer count", file=file, field=f"{field}.length",
            value=length, allowed="an integer >= 1 (a transformer space derives it from n_layer)",
        )
    element_spec = {key: value for key, value in spec.items() if key not in ("per_layer", "length")}
    element = gene_from_spec(name, element_spec, file=file)
    return PerLayerGene(name=name, element=element, length=length)


def element_gene(gene: Gene) -> Gene:
    """Return the gene one layer's value is drawn from: the element of a per-layer gene, else itself."""
    return gene.element if isinstance(gene, PerLayerGene) else gene


def all_values(gene: Gene) -> Sequence[Any]:
    """List every value of a discrete gene, in order (lists of every combination for a per-layer gene)."""
    if isinstance(gene, PerLayerGene):
        return [list(combination) for combination in itertools.product(all_values(gene.element), repeat=gene.length)]
    if isinstance(gene, CategoricalGene):
        return list(gene.choices)
    if isinstance(gene, IntGene):
        return list(range(gene.low, gene.high + 1, gene.step))
    raise ValueError(f"gene {gene.name!r} is continuous and has no finite list of values")
