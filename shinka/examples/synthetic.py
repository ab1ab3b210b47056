"""A cheap synthetic bi-objective problem over a mixed discrete and continuous space.

It is DTLZ2 in two objectives (Deb et al. 2005) with extra discrete genes
folded into the distance term g, so the true front is known:
f1 = (1 + g) cos(pi/2 * angle) and f2 = (1 + g) sin(pi/2 * angle), with
g = 0 exactly when every `d*` gene is 0.5, `level` is 3 and `mode` is "b";
the front is then the quarter circle f1^2 + f2^2 = 1.

Use it as `objective_function: shinka.examples.synthetic:evaluate` with the
space search_spaces/synthetic_generic.yaml. `accuracy` = 1 - f1 / 2 is the
same objective as f1 turned into one to maximize.
"""

from __future__ import annotations

import math
from typing import Any, Mapping

MODE_PENALTY = {"a": 0.2, "b": 0.0, "c": 0.4}


def evaluate(values: Mapping[str, Any]) -> dict[str, float]:
    """Return f1, f2 (both to minimize), accuracy (to maximize) and g for one genome's values."""
    angle = float(values["angle"])
    distance = [float(values[name]) for name in sorted(values) if name.startswith("d")]
    g = sum((x - 0.5) ** 2 for x in distance)
    g += 0.05 * abs(int(values["level"]) - 3)
    g += MODE_PENALTY[str(values["mode"])]
    f1 = (1.0 + g) * math.cos(0.5 * math.pi * angle)
    f2 = (1.0 + g) * math.sin(0.5 * math.pi * angle)
    return {"f1": f1, "f2": f2, "accuracy": 1.0 - f1 / 2.0, "g": g}
