"""MLflow tracking: one parent run per campaign, one nested child run per candidate.

Only the driver process writes to MLflow (a SQLite store locks under
concurrent writers).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from shinka.errors import UserError

logger = logging.getLogger(__name__)

DEFAULT_DB = "mlflow.db"


def resolve_tracking_uri(configured: str | None, working_dir: Path | None = None) -> str:
    """Return the tracking URI: the config's, else MLFLOW_TRACKING_URI, else sqlite:///<working dir>/mlflow.db."""
    if configured:
        return configured
    if os.environ.get("MLFLOW_TRACKING_URI"):
        return os.environ["MLFLOW_TRACKING_URI"]
    folder = (working_dir or Path.cwd()).resolve()
    return f"sqlite:///{folder / DEFAULT_DB}"


def metric_key(name: str) -> str:
    """Turn `metric@profile` into an MLflow metric key `profile/metric` ('@' is not allowed in keys)."""
    metric, _, profile = name.partition("@")
    return f"{profile}/{metric}" if profile else metric


class Tracker:
    """Writes a campaign to MLflow through MlflowClient (no global active run)."""

    def __init__(self, uri: str, experiment: str) -> None:
        import mlflow
        from mlflow.tracking import MlflowClient

        self.uri = uri
        self.client = MlflowClient(tracking_uri=uri)
        try:
            found = self.client.get_experiment_by_name(experiment)
        except Exception as error:  # an unreachable server or a bad URI: stop before any evaluation
            raise UserError(
                f"cannot reach the MLflow tracking store ({type(error).__name__})",
                field="tracking.uri", value=uri, allowed="a reachable MLflow URI, e.g. sqlite:///mlflow.db",
            ) from None
        if found is None:
            artifact_location = None
            if uri.startswith("sqlite:///"):
                # Keep artifacts beside the database instead of in the current folder.
                artifact_location = Path(uri.removeprefix("sqlite:///")).resolve().parent.joinpath("mlartifacts").as_uri()
            self.experiment_id = self.client.create_experiment(experiment, artifact_location=artifact_location)
        else:
            self.experiment_id = found.experiment_id
        self.parent_run_id: str | None = None
        self.child_runs: dict[str, str] = {}
        del mlflow

    def start_parent(self, name: str, params: dict[str, Any], tags: dict[str, str]) -> str:
        run = self.client.create_run(self.experiment_id, run_name=name, tags={"shinka.kind": "campaign", **tags})
        self.parent_run_id = run.info.run_id
        self._log_params(self.parent_run_id, params)
        return self.parent_run_id

    def log_candidate(
        self, candidate_id: str, params: dict[str, Any], metrics: dict[str, float], tags: dict[str, str], step: int
    ) -> str:
        from mlflow.entities import Metric, Param

        run = self.client.create_run(
            self.experiment_id,
            run_name=candidate_id,
            tags={
                "mlflow.parentRunId": self.parent_run_id,
                "shinka.kind": "candidate",
                "candidate_id": candidate_id,
                **{k: str(v) for k, v in tags.items()},
            },
        )
        run_id = run.info.run_id
        timestamp = _now_ms()
        self.client.log_batch(
            run_id,
            metrics=[Metric(metric_key(k), float(v), timestamp, step) for k, v in metrics.items() if v is not None],
            params=[Param(k, _param_text(v)) for k, v in params.items()],
        )
        self.client.set_terminated(run_id, status="FINISHED" if tags.get("status") == "ok" else "FAILED")
        self.child_runs[candidate_id] = run_id
        return run_id

    def log_parent_metrics(self, metrics: dict[str, float], step: int) -> None:
        from mlflow.entities import Metric

        timestamp = _now_ms()
        self.client.log_batch(
            self.parent_run_id, metrics=[Metric(k, float(v), timestamp, step) for k, v in metrics.items()]
        )

    def set_candidate_tags(self, candidate_id: str, tags: dict[str, str]) -> None:
        run_id = self.child_runs.get(candidate_id)
        if run_id is None:
            return
        from mlflow.entities import RunTag

        self.client.log_batch(run_id, tags=[RunTag(k, str(v)) for k, v in tags.items()])

    def log_artifact(self, path: str | Path) -> None:
        self.client.log_artifact(self.parent_run_id, str(path))

    def finish(self, status: str = "FINISHED") -> None:
        if self.parent_run_id is not None:
            self.client.set_terminated(self.parent_run_id, status=status)

    def _log_params(self, run_id: str, params: dict[str, Any]) -> None:
        from mlflow.entities import Param

        items = [Param(k, _param_text(v)) for k, v in params.items()]
        for start in range(0, len(items), 100):  # MLflow accepts at most 100 params per batch
            self.client.log_batch(run_id, params=items[start : start + 100])


def _param_text(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 6000 else text[:5997] + "..."


def _now_ms() -> int:
    import time

    return int(time.time() * 1000)


def flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    """Flatten nested dicts to dotted keys, for MLflow params."""
    if not isinstance(data, dict):
        return {prefix: data}
    flat: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict):
            flat.update(flatten(value, name))
        else:
            flat[name] = value
    return flat
