"""Rules a valid genome satisfies: YAML constraints and a space kind's structural rules.

A rule reads a few named values and returns why they are invalid, or None. A
rule that names a per-layer value (a per-layer gene, or a fixed list for a
per-layer name) is checked once per active layer, with each per-layer name
bound to that layer's element. Any other rule is checked once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping

from shinka.space.constraints import Constraint

Check = Callable[[Mapping[str, Any]], "str | None"]


@dataclass(frozen=True)
class Rule:
    """A named check over the values of `names`.

    label: how errors name the rule (a constraint's expression or a sentence);
    field: the YAML field errors point to ("constraints[2]", or "" for a kind's
    structural rule, which errors locate by gene instead).
    """

    label: str
    names: frozenset[str]
    check: Check
    field: str = ""


def rule_from_constraint(constraint: Constraint, index: int) -> Rule:
    """Wrap a parsed YAML constraint as a rule."""

    def check(values: Mapping[str, Any]) -> str | None:
        if constraint.holds(values):
            return None
        return f"constraint '{constraint.expression}' does not hold"

    return Rule(
        label=f"constraint '{constraint.expression}'",
        names=frozenset(constraint.names()),
        check=check,
        field=f"constraints[{index}]",
    )


def layer_slice(values: Mapping[str, Any], per_layer: Iterable[str], layer: int) -> dict[str, Any]:
    """Return `values` with each per-layer name bound to its element for `layer`."""
    sliced = dict(values)
    for name in per_layer:
        value = sliced.get(name)
        if isinstance(value, (list, tuple)):
            sliced[name] = value[layer]
    return sliced


def check_rules(
    rules: Iterable[Rule], values: Mapping[str, Any], per_layer: frozenset[str], active_layers: int
) -> str | None:
    """Return the first rule violation of `values`, or None when every rule holds.

    Rules that name a per-layer value are checked on each of the first
    `active_layers` layers; the message then names the layer.
    """
    for rule in rules:
        if rule.names & per_layer:
            for layer in range(active_layers):
                reason = rule.check(layer_slice(values, rule.names & per_layer, layer))
                if reason is not None:
                    return f"layer {layer}: {reason}"
        else:
            reason = rule.check(values)
            if reason is not None:
                return reason
    return None
