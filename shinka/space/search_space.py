"""SearchSpace: genes, fixed values and constraints, loaded from YAML."""

from __future__ import annotations

import itertools
import math
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from shinka.errors import UserError
from shinka.space.constraints import Constraint, parse_constraint
from shinka.space.genes import CategoricalGene, Gene, IntGene, all_values, gene_from_spec
from shinka.space.genome import Genome
from shinka.yamlio import LineDict, read_yaml_mapping

KINDS = ("transformer", "generic")

# Rejection sampling gives up after this many draws in a row that break a constraint.
MAX_SAMPLE_TRIES = 10_000


@dataclass
class SearchSpace:
    """Named genes plus fixed values and constraints.

    `kind` is "transformer" when genes are read as a decoder-only transformer
    (see shinka.model.arch for the gene names) or "generic" for any objective.
    A valid genome assigns a value in its domain to every gene and satisfies
    every constraint; fixed values are merged in before constraints are checked.
    """

    name: str
    genes: dict[str, Gene]
    fixed: dict[str, Any] = field(default_factory=dict)
    constraints: list[Constraint] = field(default_factory=list)
    kind: str = "generic"
    source: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)

    def values_of(self, genome: Mapping[str, Any]) -> dict[str, Any]:
        """Return the genome's values with the fixed values merged in."""
        return {**self.fixed, **dict(genome)}

    def violation(self, genome: Mapping[str, Any]) -> str | None:
        """Return why `genome` is invalid, or None when it is valid."""
        for name, gene in self.genes.items():
            if name not in genome:
                return f"gene '{name}' is missing"
            if not gene.contains(genome[name]):
                return f"gene '{name}' = {genome[name]!r} is outside its domain ({gene.describe()})"
        extra = sorted(set(genome) - set(self.genes))
        if extra:
            return f"'{extra[0]}' is not a gene of this space"
        values = self.values_of(genome)
        for constraint in self.constraints:
            if not constraint.holds(values):
                return f"constraint '{constraint.expression}' does not hold"
        rule = _structural_rules.get(self.kind)
        return rule(values) if rule is not None else None

    def is_valid(self, genome: Mapping[str, Any]) -> bool:
        return self.violation(genome) is None

    def sample(self, rng: random.Random) -> Genome:
        """Draw a valid genome uniformly from the valid region by rejection sampling."""
        for _ in range(MAX_SAMPLE_TRIES):
            values = {name: gene.sample(rng) for name, gene in self.genes.items()}
            if self.is_valid(values):
                return Genome(values)
        raise UserError(
            f"no genome satisfying every constraint found in {MAX_SAMPLE_TRIES} random draws",
            file=self.source, field="constraints",
            allowed="constraints that some combination of gene values satisfies",
        )

    def distance(self, a: Mapping[str, Any], b: Mapping[str, Any]) -> float:
        """Return the mean normalized per-gene distance, in [0, 1]."""
        if not self.genes:
            return 0.0
        total = sum(gene.distance(a[name], b[name]) for name, gene in self.genes.items())
        return total / len(self.genes)

    def is_discrete(self) -> bool:
        return all(isinstance(gene, (CategoricalGene, IntGene)) for gene in self.genes.values())

    def raw_size(self) -> int | None:
        """Return the product of the gene cardinalities, or None if a gene is continuous."""
        sizes = [gene.cardinality() for gene in self.genes.values()]
        if any(size is None for size in sizes):
            return None
        return math.prod(sizes)

    def enumerate_valid(self, limit: int = 2_000_000) -> list[Genome]:
        """List every valid genome of a discrete space (raises ValueError above `limit` raw combinations)."""
        size = self.raw_size()
        if size is None or size > limit:
            raise ValueError(f"space has {size} raw combinations, above the limit {limit}")
        names = list(self.genes)
        result = []
        for combination in itertools.product(*(all_values(self.genes[n]) for n in names)):
            values = dict(zip(names, combination))
            if self.is_valid(values):
                result.append(Genome(values))
        return result

    def genome_from_mapping(self, values: Mapping[str, Any], *, file: str | None = None) -> Genome:
        """Check a user-given genome against the space; raise a UserError if invalid."""
        reason = self.violation(values)
        if reason is not None:
            raise UserError(f"invalid genome: {reason}", file=file)
        return Genome(values)


# Checks a transformer space's gene domains; set by shinka.model.arch to keep this
# module free of any transformer knowledge.
DomainChecker = Callable[[SearchSpace, LineDict], None]
_domain_checkers: dict[str, DomainChecker] = {}
# Returns why merged values cannot build (None when they can); applied on top of
# the YAML constraints, so a genome that cannot build never reaches a worker.
StructuralRule = Callable[[Mapping[str, Any]], "str | None"]
_structural_rules: dict[str, StructuralRule] = {}


def register_kind(kind: str, checker: DomainChecker, rule: StructuralRule) -> None:
    """Register the load-time domain check and the per-genome build rule of a space kind."""
    _domain_checkers[kind] = checker
    _structural_rules[kind] = rule


def load_search_space(path: str | Path) -> SearchSpace:
    """Load and validate a search space YAML file.

    Raises UserError naming the file, line and field for unknown keys, invalid
    gene declarations, unknown gene names (for transformer spaces), gene values
    that cannot build, bad constraints, and spaces with no valid genome.
    """
    path = Path(path)
    data = read_yaml_mapping(path, what="search space")
    return search_space_from_dict(data, source=str(path))


def search_space_from_dict(data: Mapping[str, Any], *, source: str | None = None) -> SearchSpace:
    allowed_keys = {"name", "kind", "description", "genes", "fixed", "constraints"}
    lines = data.line_of if isinstance(data, LineDict) else (lambda key: None)
    for key in data:
        if key not in allowed_keys:
            raise UserError(
                "unknown key", file=source, line=lines(key), field=str(key), value=key,
                allowed=", ".join(sorted(allowed_keys)),
            )
    kind = data.get("kind", "generic")
    if kind not in KINDS:
        raise UserError(
            "unknown search space kind", file=source, line=lines("kind"), field="kind",
            value=kind, allowed=", ".join(KINDS),
        )
    genes_spec = data.get("genes")
    if not isinstance(genes_spec, dict) or not genes_spec:
        raise UserError(
            "a search space needs a non-empty 'genes' mapping", file=source,
            line=lines("genes"), field="genes", value=genes_spec,
            allowed="a mapping from gene name to its declaration",
        )
    gene_lines = genes_spec.line_of if isinstance(genes_spec, LineDict) else (lambda key: None)
    genes: dict[str, Gene] = {}
    for name, spec in genes_spec.items():
        try:
            genes[str(name)] = gene_from_spec(str(name), spec, file=source)
        except UserError as error:
            error.line = error.line or gene_lines(name)
            raise UserError(
                error.message, file=source, line=error.line, field=error.field,
                value=error.value, allowed=error.allowed,
            ) from None
    fixed = data.get("fixed") or {}
    if not isinstance(fixed, dict):
        raise UserError(
            "'fixed' must be a mapping", file=source, line=lines("fixed"), field="fixed",
            value=fixed, allowed="a mapping from name to value",
        )
    overlap = sorted(set(fixed) & set(genes))
    if overlap:
        raise UserError(
            "a name is both a gene and fixed", file=source, field=f"fixed.{overlap[0]}",
            value=overlap[0], allowed="each name in either 'genes' or 'fixed'",
        )
    constraints_spec = data.get("constraints") or []
    if not isinstance(constraints_spec, list):
        raise UserError(
            "'constraints' must be a list of expressions", file=source,
            line=lines("constraints"), field="constraints", value=constraints_spec,
            allowed="a list of strings",
        )
    known = set(genes) | set(fixed)
    constraints = [
        parse_constraint(expr, known_names=known, file=source, field=f"constraints[{i}]")
        for i, expr in enumerate(constraints_spec)
    ]
    space = SearchSpace(
        name=str(data.get("name") or (Path(source).stem if source else "space")),
        genes=genes,
        fixed=dict(fixed),
        constraints=constraints,
        kind=kind,
        source=source,
        raw=dict(data),
    )
    checker = _domain_checkers.get(kind)
    if checker is None and kind == "transformer":
        import shinka.model.arch  # noqa: F401 - registers the transformer checker

        checker = _domain_checkers.get(kind)
    if checker is not None:
        checker(space, data if isinstance(data, LineDict) else LineDict(data))
    space.sample(random.Random(0))  # raises a UserError when no valid genome exists
    return space
