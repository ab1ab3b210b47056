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
from shinka.space.genes import CategoricalGene, Gene, IntGene, PerLayerGene, all_values, element_gene, gene_from_spec
from shinka.space.genome import Genome
from shinka.space.rules import Rule, check_rules, rule_from_constraint
from shinka.yamlio import LineDict, read_yaml_mapping

KINDS = ("transformer", "generic")

# Rejection sampling gives up after this many draws in a row that break a constraint.
MAX_SAMPLE_TRIES = 10_000
# Loading counts valid genomes exactly when no group of linked genes has more
# combinations than this, which takes well under a second. Larger spaces fall
# back to rejection sampling.
LOAD_ENUMERATION_LIMIT = 100_000


@dataclass
class SearchSpace:
    """Named genes plus fixed values and constraints.

    `kind` is "transformer" when genes are read as a decoder-only transformer
    (see shinka.model.gene_catalog for the gene names) or "generic" for any
    objective. A valid genome assigns a value in its domain to every gene, and
    satisfies every constraint and every structural rule of its kind. Fixed
    values are merged in before the rules are checked. Rules that name a per-layer
    value are checked on each active layer (the first n_layer layers of a
    transformer, every element of a generic space).
    """

    name: str
    genes: dict[str, Gene]
    fixed: dict[str, Any] = field(default_factory=dict)
    constraints: list[Constraint] = field(default_factory=list)
    kind: str = "generic"
    source: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)
    per_layer: frozenset[str] = frozenset()  # names whose value is a list with one element per layer
    layers: int = 1  # elements of every per-layer value

    @property
    def rules(self) -> list[Rule]:
        """Return the YAML constraints, then the structural rules of the space's kind."""
        rules = [rule_from_constraint(constraint, i) for i, constraint in enumerate(self.constraints)]
        spec = _kinds.get(self.kind)
        return rules + list(spec.rules if spec is not None else ())

    def values_of(self, genome: Mapping[str, Any]) -> dict[str, Any]:
        """Return the genome's values with the fixed values merged in."""
        return {**self.fixed, **dict(genome)}

    def active_layers(self, values: Mapping[str, Any]) -> int:
        """Return how many leading elements of each per-layer value are in use."""
        spec = _kinds.get(self.kind)
        if spec is None or spec.layer_count is None:
            return self.layers
        count = values.get(spec.layer_count, spec.defaults.get(spec.layer_count, self.layers))
        return min(int(count), self.layers)

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
        return check_rules(self.rules, values, self.per_layer, self.active_layers(values))

    def is_valid(self, genome: Mapping[str, Any]) -> bool:
        return self.violation(genome) is None

    def canonical(self, genome: Mapping[str, Any]) -> Genome:
        """Return `genome` with the inactive elements of per-layer genes reset to their first value.

        Genomes that differ only past the active layers build the same model;
        their canonical forms are equal.
        """
        values = dict(genome)
        active = self.active_layers(self.values_of(genome))
        for name, gene in self.genes.items():
            if isinstance(gene, PerLayerGene) and active < gene.length:
                first = first_value(gene.element)
                values[name] = list(values[name][:active]) + [first] * (gene.length - active)
        return Genome(values)

    def sample(self, rng: random.Random) -> Genome:
        """Draw a valid genome by rejection sampling, in canonical form.

        Every gene is drawn uniformly from its domain until the draw is valid,
        so the result is uniform over valid canonical genomes only when no
        per-layer gene depends on a varying layer count.
        """
        for _ in range(MAX_SAMPLE_TRIES):
            values = {name: gene.sample(rng) for name, gene in self.genes.items()}
            if self.is_valid(values):
                return self.canonical(values)
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
        return all(isinstance(element_gene(gene), (CategoricalGene, IntGene)) for gene in self.genes.values())

    def raw_size(self) -> int | None:
        """Return the product of the gene cardinalities, or None if a gene is continuous."""
        sizes = [gene.cardinality() for gene in self.genes.values()]
        if any(size is None for size in sizes):
            return None
        return math.prod(sizes)

    def enumerate_valid(self, limit: int = 2_000_000) -> list[Genome]:
        """List every valid genome of a discrete space by brute force (ValueError above `limit` raw combinations)."""
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


def first_value(gene: Gene) -> Any:
    """Return the first value of a gene's domain: its first choice, or its low bound."""
    if isinstance(gene, CategoricalGene):
        return gene.choices[0]
    return gene.low  # type: ignore[attr-defined]


# Checks a space's gene domains against what its kind can build.
DomainChecker = Callable[[SearchSpace, LineDict], None]


@dataclass(frozen=True)
class KindSpec:
    """The checks and rules a space kind adds, registered by the module that defines the kind.

    check_domains: raises a UserError for a gene or fixed value the kind cannot use.
    rules: structural rules every genome of the kind satisfies, on top of the YAML constraints.
    layer_count: the name whose value is the number of active layers (None: all elements).
    defaults: values of names that are neither genes nor fixed.
    per_layer_names: names allowed to vary per layer (None: any name).
    """

    check_domains: DomainChecker
    rules: tuple[Rule, ...] = ()
    layer_count: str | None = None
    defaults: Mapping[str, Any] = field(default_factory=dict)
    per_layer_names: frozenset[str] | None = None


_kinds: dict[str, KindSpec] = {}


def register_kind(kind: str, spec: KindSpec) -> None:
    """Register the domain check, structural rules and layer count of a space kind."""
    _kinds[kind] = spec


def kind_spec(kind: str) -> KindSpec | None:
    """Return the registered spec of `kind`, importing the transformer kind on first use."""
    if kind == "transformer" and kind not in _kinds:
        import shinka.model.gene_catalog  # noqa: F401 - registers the transformer kind

    return _kinds.get(kind)


def load_search_space(path: str | Path) -> SearchSpace:
    """Load and validate a search space YAML file.

    Raises UserError naming the file, line and field for unknown keys, invalid
    gene declarations, unknown gene names (for transformer spaces), gene values
    that cannot build, bad constraints, and spaces with no valid genome.
    """
    path = Path(path)
    data = read_yaml_mapping(path, what="search space")
    return search_space_from_dict(data, source=str(path))


def _lines(data: Any) -> Callable[[Any], int | None]:
    return data.line_of if isinstance(data, LineDict) else (lambda key: None)


def _layer_length(genes_spec: Mapping[str, Any], fixed: Mapping[str, Any], spec: KindSpec | None, source: str | None) -> int | None:
    """Return the per-layer list length: the largest value the kind's layer count can take."""
    if spec is None or spec.layer_count is None:
        return None
    name = spec.layer_count
    if name in fixed:
        value = fixed[name]
        return value if isinstance(value, int) and not isinstance(value, bool) and value >= 1 else None
    if name not in genes_spec:
        return spec.defaults.get(name)
    gene = gene_from_spec(name, genes_spec[name], file=source)
    try:
        values = [v for v in all_values(gene) if isinstance(v, int) and not isinstance(v, bool)]
    except ValueError:
        return None
    return max(values) if values else None


def search_space_from_dict(data: Mapping[str, Any], *, source: str | None = None) -> SearchSpace:
    """Build and check a search space from its parsed YAML mapping (see load_search_space)."""
    allowed_keys = {"name", "kind", "description", "genes", "fixed", "constraints"}
    lines = _lines(data)
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
    spec = kind_spec(kind)

    genes_spec = data.get("genes")
    if not isinstance(genes_spec, dict) or not genes_spec:
        raise UserError(
            "a search space needs a non-empty 'genes' mapping", file=source,
            line=lines("genes"), field="genes", value=genes_spec,
            allowed="a mapping from gene name to its declaration",
        )
    fixed = data.get("fixed") or {}
    if not isinstance(fixed, dict):
        raise UserError(
            "'fixed' must be a mapping", file=source, line=lines("fixed"), field="fixed",
            value=fixed, allowed="a mapping from name to value",
        )

    gene_lines = _lines(genes_spec)
    genes: dict[str, Gene] = {}
    try:
        layers = _layer_length(genes_spec, fixed, spec, source)
        for name, gene_spec in genes_spec.items():
            genes[str(name)] = gene_from_spec(str(name), gene_spec, file=source, layers=layers)
    except UserError as error:
        name = (error.field or "").split(".")[1] if (error.field or "").startswith("genes.") else None
        raise UserError(
            error.message, file=source, line=error.line or gene_lines(name), field=error.field,
            value=error.value, allowed=error.allowed,
        ) from None

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

    per_layer_genes = {name for name, gene in genes.items() if isinstance(gene, PerLayerGene)}
    lengths = {gene.length for gene in genes.values() if isinstance(gene, PerLayerGene)}
    per_layer_fixed = set()
    if spec is not None and spec.per_layer_names is not None:
        per_layer_fixed = {
            name for name, value in fixed.items() if isinstance(value, list) and name in spec.per_layer_names
        }
    space = SearchSpace(
        name=str(data.get("name") or (Path(source).stem if source else "space")),
        genes=genes,
        fixed=dict(fixed),
        constraints=constraints,
        kind=kind,
        source=source,
        raw=dict(data),
        per_layer=frozenset(per_layer_genes | per_layer_fixed),
        layers=max(lengths) if lengths else (layers or 1),
    )

    if spec is not None:
        spec.check_domains(space, data if isinstance(data, LineDict) else LineDict(data))
    _check_has_valid_genome(space)
    return space


def _check_has_valid_genome(space: SearchSpace) -> None:
    """Raise a UserError naming the rule no genome satisfies, when the space has no valid genome."""
    from shinka.space.counting import analyse_space

    analysis = analyse_space(space, limit=LOAD_ENUMERATION_LIMIT)
    if analysis is None:
        space.sample(random.Random(0))  # continuous or too large to count: rejection sampling decides
        return
    if analysis.valid_genomes == 0:
        raise analysis.no_genome_error()
