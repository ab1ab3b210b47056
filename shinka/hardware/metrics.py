"""SourcedMetrics: metric values that carry where each one comes from."""

from __future__ import annotations

from typing import Literal, Mapping

Source = Literal["measured", "estimated"]


class SourcedMetrics(dict):
    """Metric name -> float, plus `sources`: metric name -> "measured" or "estimated".

    It is a plain dict of floats for callers that only read values (JSON,
    MLflow, the campaign journal), and `sources` says how each value was obtained.
    """

    sources: dict[str, str]

    def __init__(self, values: Mapping[str, float] = (), source: Source = "estimated") -> None:
        super().__init__(values)
        self.sources = {key: source for key in self}

    def set(self, key: str, value: float, source: Source) -> None:
        """Store `value` under `key` with its source."""
        self[key] = value
        self.sources[key] = source
