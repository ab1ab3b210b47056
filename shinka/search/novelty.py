"""Novelty rejection: turn away offspring that repeat or nearly repeat what the search already has.

An offspring is rejected when its genome id was proposed before, or when its
distance (SearchSpace.distance, the mean normalized per-gene distance in
[0, 1]) to the NEAREST member of its island is below the threshold. "Too close
to its nearest member" is the usual reading of a distance threshold; a
threshold of 0 rejects exact repeats only.
"""

from __future__ import annotations

from typing import Iterable

from shinka.space.genome import Genome
from shinka.space.search_space import SearchSpace


def nearest_distance(space: SearchSpace, genome: Genome, members: Iterable[Genome]) -> float:
    """Return the distance from `genome` to its nearest member (inf with no members)."""
    nearest = float("inf")
    for member in members:
        nearest = min(nearest, space.distance(genome, member))
        if nearest == 0.0:
            break
    return nearest


def rejection_reason(space: SearchSpace, genome: Genome, seen: Iterable[str] | set[str], members: Iterable[Genome],
                     threshold: float) -> str | None:
    """Return why `genome` is not novel ("duplicate" or "too_close"), or None when it is novel."""
    if genome.id in seen:
        return "duplicate"
    if threshold > 0 and nearest_distance(space, genome, members) < threshold:
        return "too_close"
    return None
