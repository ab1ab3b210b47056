"""Exact counts of the valid genomes of a discrete space, without enumerating the raw product.

Genes that no rule names vary freely, so they multiply the count by their
cardinality. The other genes fall into groups linked by the rules that name
them, and only each group's product is enumerated. Per-layer genes are counted
one layer at a time. Given the scalar genes, the rules of one layer read only
that layer's elements. So the count for one scalar assignment is the product,
over the active layers, of the valid element combinations of each layer, times
the free inactive elements. The same pass records which gene values appear in
some valid genome.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from shinka.errors import UserError
from shinka.space.genes import PerLayerGene, all_values, element_gene
from shinka.space.rules import Rule, layer_slice
from shinka.space.search_space import SearchSpace, kind_spec

# Largest product of gene cardinalities enumerated for one group of linked genes.
ENUMERATION_LIMIT = 1_000_000
_LAYERED = "\0layers"  # union-find node that joins everything evaluated per layer


@dataclass
class SpaceAnalysis:
    """Exact counts and value usage of a discrete search space.

    valid_genomes counts genomes as the space defines them, inactive per-layer
    elements included; valid_architectures counts canonical genomes, one per
    distinct model.
    """

    space: SearchSpace
    valid_genomes: int
    valid_architectures: int
    live: dict[str, set[str]]  # gene -> repr of each (element) value used by some valid genome
    rejections: dict[tuple[str, str], Counter] = field(default_factory=dict)  # (gene, repr) -> rule label counts
    failure: Counter = field(default_factory=Counter)  # rule label -> rejections, filled when no genome is valid
    rules: dict[str, Rule] = field(default_factory=dict)

    def dead_values(self) -> list[tuple[str, Any, str | None]]:
        """List (gene, value, rejecting rule label) for each value that no valid genome uses."""
        dead = []
        for name, gene in self.space.genes.items():
            for value in all_values(element_gene(gene)):
                if repr(value) not in self.live.get(name, set()):
                    reasons = self.rejections.get((name, repr(value)))
                    label = reasons.most_common(1)[0][0] if reasons else None
                    dead.append((name, value, label))
        return dead

    def no_genome_error(self) -> UserError:
        """Return the error for a space without valid genomes, naming the rule that rejects the most."""
        space = self.space
        if not self.failure:
            return UserError("no valid genome", file=space.source, field="genes")
        label = self.failure.most_common(1)[0][0]
        rule = self.rules[label]
        named = [name for name in sorted(rule.names) if name in space.genes]
        fixed_names = ", ".join(f"fixed.{name}" for name in sorted(rule.names) if name in space.fixed)
        field_name = rule.field or (f"genes.{named[0]}" if named else fixed_names or "fixed")
        domains = {name: list(all_values(element_gene(space.genes[name]))) for name in named}
        fixed = {name: space.fixed[name] for name in sorted(rule.names) if name in space.fixed}
        return UserError(
            f"no genome satisfies {rule.label}", file=space.source, field=field_name,
            value={**domains, **fixed} or None,
            allowed="values for which it holds; widen the genes it names, or change it or the fixed values",
        )

    def dead_value_error(self) -> UserError | None:
        """Return an error naming the first gene value that no valid genome uses, or None."""
        dead = self.dead_values()
        if not dead:
            return None
        name, value, label = dead[0]
        live = [v for v in all_values(element_gene(self.space.genes[name])) if repr(v) in self.live.get(name, set())]
        reason = f"; {label} rejects it" if label else ""
        line = None
        genes_spec = self.space.raw.get("genes")
        if hasattr(genes_spec, "line_of"):
            line = genes_spec.line_of(name)
        return UserError(
            f"value {value!r} appears in no valid genome{reason}", file=self.space.source, line=line,
            field=f"genes.{name}", value=value, allowed=", ".join(str(v) for v in live),
        )


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, item: str) -> str:
        self.parent.setdefault(item, item)
        while self.parent[item] != item:
            self.parent[item] = self.parent[self.parent[item]]
            item = self.parent[item]
        return item

    def union(self, items: Iterable[str]) -> None:
        items = list(items)
        for item in items[1:]:
            self.parent[self.find(item)] = self.find(items[0])


def _first_failure(rules: list[Rule], values: Mapping[str, Any]) -> Rule | None:
    for rule in rules:
        if rule.check(values) is not None:
            return rule
    return None


class _Analyser:
    """One counting pass over a space; see the module docstring for the method."""

    def __init__(self, space: SearchSpace, limit: int) -> None:
        self.space = space
        self.limit = limit
        spec = kind_spec(space.kind)
        self.layer_name = spec.layer_count if spec is not None else None
        self.per_layer_genes = [n for n, g in space.genes.items() if isinstance(g, PerLayerGene)]
        self.scalar_genes = [n for n in space.genes if n not in self.per_layer_genes]
        self.rules = space.rules
        self.live: dict[str, set[str]] = {name: set() for name in space.genes}
        self.rejections: dict[tuple[str, str], Counter] = {}
        self.failure: Counter = Counter()
        self.slice_memo: dict[tuple, tuple[int, list[dict[str, set[str]]]]] = {}

    def _reject(self, rule: Rule, assignment: Mapping[str, Any]) -> None:
        self.failure[rule.label] += 1
        for name, value in assignment.items():
            self.rejections.setdefault((name, repr(value)), Counter())[rule.label] += 1

    def _domain(self, name: str) -> list[Any]:
        return list(all_values(element_gene(self.space.genes[name])))

    def _product(self, names: list[str]) -> Iterable[dict[str, Any]]:
        size = math.prod(len(self._domain(name)) for name in names)
        if size > self.limit:
            raise OverflowError(f"{size} combinations of {', '.join(names)}")
        for combination in itertools.product(*(self._domain(name) for name in names)):
            yield dict(zip(names, combination))

    def run(self) -> tuple[int, int]:
        space = self.space
        indexed = [rule for rule in self.rules if rule.names & space.per_layer]
        scalar = [rule for rule in self.rules if not rule.names & space.per_layer]

        groups = _UnionFind()
        for name in self.scalar_genes:
            groups.find(name)
        for rule in scalar:
            groups.union([name for name in rule.names if name in self.scalar_genes])
        layered = bool(self.per_layer_genes or indexed)
        if layered:
            groups.find(_LAYERED)
            for rule in indexed:
                groups.union([_LAYERED] + [name for name in rule.names if name in self.scalar_genes])
            if self.layer_name in self.scalar_genes and self.per_layer_genes:
                groups.union([_LAYERED, self.layer_name])

        members: dict[str, list[str]] = {}
        for name in self.scalar_genes + ([_LAYERED] if layered else []):
            members.setdefault(groups.find(name), []).append(name)

        for rule in scalar:
            if not rule.names & set(space.genes) and rule.check(dict(space.fixed)) is not None:
                self.failure[rule.label] += 1
                return 0, 0

        rule_group = {
            rule.label: groups.find(named[0])
            for rule in scalar
            if (named := [name for name in rule.names if name in self.scalar_genes])
        }
        genomes = architectures = 1
        for root, names in members.items():
            rules = [rule for rule in scalar if rule_group.get(rule.label) == root]
            self.failure = Counter()
            if _LAYERED in names:
                raw, canonical = self._count_layered([n for n in names if n != _LAYERED], rules, indexed)
            else:
                raw = canonical = self._count_group(names, rules)
            if raw == 0:
                return 0, 0  # self.failure contains this group's rejections
            genomes *= raw
            architectures *= canonical
        return genomes, architectures

    def _count_group(self, names: list[str], rules: list[Rule]) -> int:
        if not rules:
            for name in names:
                self.live[name].update(repr(v) for v in self._domain(name))
            return math.prod(len(self._domain(name)) for name in names)
        count = 0
        for assignment in self._product(names):
            failed = _first_failure(rules, {**self.space.fixed, **assignment})
            if failed is not None:
                self._reject(failed, assignment)
                continue
            count += 1
            for name, value in assignment.items():
                self.live[name].add(repr(value))
        return count

    def _count_layered(self, names: list[str], scalar_rules: list[Rule], indexed: list[Rule]) -> tuple[int, int]:
        space = self.space
        slice_groups = _UnionFind()
        for name in self.per_layer_genes:
            slice_groups.find(name)
        for rule in indexed:
            slice_groups.union([name for name in rule.names if name in self.per_layer_genes])
        subsets: dict[str, list[str]] = {}
        for name in self.per_layer_genes:
            subsets.setdefault(slice_groups.find(name), []).append(name)
        tail = math.prod(len(self._domain(name)) for name in self.per_layer_genes)
        relevant = sorted(set(names) & set().union(*(rule.names for rule in indexed))) if indexed else []
        raw_total = canonical_total = 0
        for assignment in self._product(names):
            values = {**space.fixed, **assignment}
            failed = _first_failure(scalar_rules, values)
            if failed is not None:
                self._reject(failed, assignment)
                continue
            active = space.active_layers(values)
            counts, live_slices = [], []
            for layer in range(active):
                count, live = self._count_slice(values, layer, relevant, list(subsets.values()), indexed)
                counts.append(count)
                live_slices.append(live)
            canonical = math.prod(counts)
            raw = canonical * tail ** (space.layers - active)
            if raw == 0:
                continue
            raw_total += raw
            canonical_total += canonical
            for name, value in assignment.items():
                self.live[name].add(repr(value))
            for live in live_slices:
                for part in live:
                    for name, reprs in part.items():
                        self.live[name].update(reprs)
        return raw_total, canonical_total

    def _count_slice(
        self, values: dict[str, Any], layer: int, relevant: list[str], subsets: list[list[str]], indexed: list[Rule]
    ) -> tuple[int, list[dict[str, set[str]]]]:
        """Return the valid element combinations of one layer, and the element values they use."""
        fixed_slice = tuple(
            (name, repr(self.space.fixed[name][layer])) for name in sorted(self.space.per_layer) if name in self.space.fixed
        )
        key = (tuple(repr(values.get(name)) for name in relevant), fixed_slice)
        if key in self.slice_memo:
            return self.slice_memo[key]

        base = layer_slice(values, self.space.per_layer, layer)
        count = 1
        live: list[dict[str, set[str]]] = []
        for rule in indexed:
            if not rule.names & set(self.per_layer_genes) and rule.check(base) is not None:
                self.failure[rule.label] += 1
                self.slice_memo[key] = (0, [])
                return 0, []

        for subset in subsets:
            rules = [rule for rule in indexed if rule.names & set(subset)]
            used: dict[str, set[str]] = {name: set() for name in subset}
            valid = 0
            for assignment in self._product(subset):
                failed = _first_failure(rules, {**base, **assignment})
                if failed is not None:
                    self._reject(failed, assignment)
                    continue
                valid += 1
                for name, value in assignment.items():
                    used[name].add(repr(value))
            count *= valid
            live.append(used)
        result = (count, live if count else [])
        self.slice_memo[key] = result
        return result


def analyse_space(space: SearchSpace, limit: int = ENUMERATION_LIMIT) -> SpaceAnalysis | None:
    """Count the valid genomes of `space` exactly; None when a gene is continuous or a group is too large.

    `limit` caps the combinations enumerated for one group of genes that rules link.
    """
    if any(element_gene(gene).cardinality() is None for gene in space.genes.values()):
        return None
    analyser = _Analyser(space, limit)
    try:
        genomes, architectures = analyser.run()
    except OverflowError:
        return None
    return SpaceAnalysis(
        space=space,
        valid_genomes=genomes,
        valid_architectures=architectures,
        live=analyser.live,
        rejections=analyser.rejections,
        failure=analyser.failure if genomes == 0 else Counter(),
        rules={rule.label: rule for rule in analyser.rules},
    )
