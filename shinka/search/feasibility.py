"""Hard constraints on estimated metrics, checked before a candidate is trained.

A constraint is `METRIC OP NUMBER`, with OP one of <=, <, >=, >, e.g.
`latency_ms_per_token_decode@raspberry-pi-5 <= 50` or
`memory_mb@jetson-orin-nano <= 4000`. The metric must be one the cost model
or the roofline estimate gives without training (the caller supplies those
metrics); a genome that breaks any constraint is never trained.
"""

from __future__ import annotations

import math
import operator
import re
from dataclasses import dataclass
from typing import Any, Callable, Mapping

_OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le, "<": operator.lt, ">=": operator.ge, ">": operator.gt,
}
_PATTERN = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*(?:@[A-Za-z0-9._-]+)?)\s*(<=|>=|<|>)\s*(\S+)\s*$")


@dataclass(frozen=True)
class MetricConstraint:
    """`metric op bound`, e.g. memory_mb@jetson-orin-nano <= 4000."""

    metric: str
    op: str
    bound: float
    text: str

    @property
    def profile(self) -> str | None:
        return self.metric.partition("@")[2] or None

    def violation(self, metrics: Mapping[str, Any]) -> str | None:
        """Return why `metrics` break this constraint (a missing or non-finite metric breaks it), or None."""
        value = metrics.get(self.metric)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            return f"{self.metric} is not available ({value!r})"
        if not _OPERATORS[self.op](float(value), self.bound):
            return f"{self.metric} = {value:.6g} breaks '{self.text}'"
        return None


def parse_metric_constraint(text: Any) -> MetricConstraint:
    """Parse `METRIC OP NUMBER`; raise ValueError naming the allowed form."""
    match = _PATTERN.match(text) if isinstance(text, str) else None
    if match is None:
        raise ValueError(
            f"invalid constraint {text!r}; allowed: 'METRIC OP NUMBER' with OP one of <=, <, >=, >, "
            "e.g. 'memory_mb@jetson-orin-nano <= 4000'"
        )
    metric, op, bound_text = match.groups()
    try:
        bound = float(bound_text)
    except ValueError:
        raise ValueError(f"invalid bound {bound_text!r} in constraint {text!r}; allowed: a number") from None
    if not math.isfinite(bound):
        raise ValueError(f"invalid bound {bound_text!r} in constraint {text!r}; allowed: a finite number")
    return MetricConstraint(metric=metric, op=op, bound=bound, text=text.strip())


def violations(constraints: list[MetricConstraint], metrics: Mapping[str, Any]) -> list[str]:
    """Return the reason of every constraint that `metrics` break (empty when feasible)."""
    reasons = []
    for constraint in constraints:
        reason = constraint.violation(metrics)
        if reason is not None:
            reasons.append(reason)
    return reasons
