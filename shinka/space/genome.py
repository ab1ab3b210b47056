"""Genome: an immutable assignment of values to named genes, with a stable hash."""

from __future__ import annotations

import hashlib
import json
from typing import Any, Iterator, Mapping


class Genome(Mapping[str, Any]):
    """An immutable mapping from gene name to value.

    Its `id` (12 hex digits of a SHA-1 over the canonical JSON) is the candidate
    id used in the journal, MLflow and exports: two genomes with equal values
    have the same id on every machine and in every run. Per-layer values are
    stored as lists (tuples are converted), copied from the input mapping.
    """

    __slots__ = ("_values", "_id")

    def __init__(self, values: Mapping[str, Any]) -> None:
        self._values = {
            name: list(value) if isinstance(value, (list, tuple)) else value
            for name, value in sorted(values.items())
        }
        canonical = json.dumps(self._values, sort_keys=True, separators=(",", ":"))
        self._id = hashlib.sha1(canonical.encode()).hexdigest()[:12]

    @property
    def id(self) -> str:
        return self._id

    def __getitem__(self, key: str) -> Any:
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __hash__(self) -> int:
        return hash(self._id)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Genome):
            return self._id == other._id
        return NotImplemented

    def __repr__(self) -> str:
        return f"Genome({self._id}, {self._values})"

    def replace(self, **changes: Any) -> "Genome":
        return Genome({**self._values, **changes})

    def to_dict(self) -> dict[str, Any]:
        return dict(self._values)
