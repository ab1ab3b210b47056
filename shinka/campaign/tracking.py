"""MLflow tracking: one parent run per campaign, one nested child run per candidate.

Only the driver process writes to MLflow (a SQLite store locks under
concurrent writers). The campaign folder's campaign.json records the
tracking URI and the parent run id, so commands that start from the folder
find its runs.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Collection
from dataclasses import dataclass
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


def absolute_tracking_uri(uri: str) -> str:
    """Return `uri` with a relative SQLite path made absolute against the current folder."""
    prefix = "sqlite:///"
    if uri.startswith(prefix) and not uri.startswith(prefix + "/"):
        return prefix + str(Path(uri.removeprefix(prefix)).resolve())
    return uri


def metric_key(name: str) -> str:
    """Turn `metric@profile` into an MLflow metric key `profile/metric` ('@' is not allowed in keys)."""
    metric, _, profile = name.partition("@")
    return f"{profile}/{metric}" if profile else metric


_sqlite_tuned = False


def tune_sqlite_connections() -> None:
    """Open every SQLite connection of this process in WAL mode with synchronous=NORMAL.

    MLflow's SQLite store commits each call in its own transaction. In the
    default rollback-journal mode every commit waits for several fsyncs, which
    made MLflow the largest part of the driver's time per candidate. In WAL mode
    with synchronous=NORMAL a commit survives a crash of the process but its
    last transactions may be lost on power failure; the campaign journal is
    fsynced and `shinka resume` logs any candidate missing from MLflow, so no
    evaluation is lost. Readers (`shinka ui`) keep working while the campaign
    writes. NOTE: WAL needs shared memory, so it does not work for a database
    on a network file system; keep the store on a local disk.
    """
    global _sqlite_tuned
    if _sqlite_tuned:
        return
    import sqlite3

    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    @event.listens_for(Engine, "connect")
    def _set_pragmas(connection: Any, _record: Any) -> None:
        if isinstance(connection, sqlite3.Connection):
            cursor = connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

    _sqlite_tuned = True


class Tracker:
    """Writes a campaign to MLflow through MlflowClient (no global active run)."""

    def __init__(self, uri: str, experiment: str) -> None:
        import mlflow
        from mlflow.tracking import MlflowClient

        # Absolute, so that the URI written into the campaign folder works from any working folder.
        self.uri = uri = absolute_tracking_uri(uri)
        if uri.startswith("sqlite:"):
            tune_sqlite_connections()
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
        self.experiment = experiment
        self.parent_run_id: str | None = None
        self.child_runs: dict[str, str] = {}
        self._child_tags: dict[str, dict[str, str]] = {}  # tags last sent per candidate
        del mlflow

    def start_parent(self, name: str, params: dict[str, Any], tags: dict[str, str]) -> str:
        run = self.client.create_run(self.experiment_id, run_name=name, tags={"shinka.kind": "campaign", **tags})
        self.parent_run_id = run.info.run_id
        self._log_params(self.parent_run_id, params)
        return self.parent_run_id

    def resume_parent(self, parent_run_id: str) -> None:
        """Reopen a campaign's parent run and load which candidates already have a complete child run.

        A child run without the `shinka.logged` tag was cut short by a crash: it
        is deleted so the candidate is logged again in full.
        """
        self.parent_run_id = parent_run_id
        self.client.update_run(parent_run_id, status="RUNNING")
        runs = self.client.search_runs(
            [self.experiment_id], filter_string=f"tags.mlflow.parentRunId = '{parent_run_id}'", max_results=50_000
        )
        for run in runs:
            candidate_id = run.data.tags.get("candidate_id")
            if candidate_id is None:
                continue
            if run.data.tags.get("shinka.logged") != "true" or candidate_id in self.child_runs:
                self.client.delete_run(run.info.run_id)
                continue
            self.child_runs[candidate_id] = run.info.run_id
            self._child_tags[candidate_id] = dict(run.data.tags)

    def has_candidate(self, candidate_id: str) -> bool:
        return candidate_id in self.child_runs

    def set_parent_tags(self, tags: dict[str, str]) -> None:
        from mlflow.entities import RunTag

        self.client.log_batch(self.parent_run_id, tags=[RunTag(k, str(v)) for k, v in tags.items()])

    def log_candidate(
        self, candidate_id: str, params: dict[str, Any], metrics: dict[str, float], tags: dict[str, str], step: int
    ) -> str:
        """Create the candidate's child run, unless it already has one (logging is idempotent by candidate id)."""
        from mlflow.entities import Metric, Param, RunTag

        if candidate_id in self.child_runs:
            return self.child_runs[candidate_id]
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
            # Set last: a run without it was cut short and is replaced on resume.
            tags=[RunTag("shinka.logged", "true")],
        )
        self.client.set_terminated(run_id, status="FINISHED" if tags.get("status") == "ok" else "FAILED")
        self.child_runs[candidate_id] = run_id
        self._child_tags[candidate_id] = {k: str(v) for k, v in tags.items()}
        return run_id

    def log_parent_metrics(self, metrics: dict[str, float], step: int) -> None:
        from mlflow.entities import Metric

        timestamp = _now_ms()
        self.client.log_batch(
            self.parent_run_id, metrics=[Metric(k, float(v), timestamp, step) for k, v in metrics.items()]
        )

    def log_parent_metric_steps(self, steps: list[tuple[int, dict[str, float]]]) -> None:
        """Log several steps of parent metrics in as few write calls as MLflow allows (1,000 metrics per call)."""
        from mlflow.entities import Metric

        timestamp = _now_ms()
        metrics = [Metric(k, float(v), timestamp, step) for step, values in steps for k, v in values.items()]
        for start in range(0, len(metrics), 1000):
            self.client.log_batch(self.parent_run_id, metrics=metrics[start : start + 1000])

    def logged_steps(self, metric: str) -> set[int]:
        """Return the steps at which the parent run has `metric`."""
        return {m.step for m in self.client.get_metric_history(self.parent_run_id, metric)}

    def set_candidate_tags(self, candidate_id: str, tags: dict[str, str]) -> None:
        run_id = self.child_runs.get(candidate_id)
        if run_id is None:
            return
        from mlflow.entities import RunTag

        self.client.log_batch(run_id, tags=[RunTag(k, str(v)) for k, v in tags.items()])

    def update_candidate_tags(self, tags_by_candidate: dict[str, dict[str, str]]) -> int:
        """Send only the tags that differ from what each child run already has; return the runs updated.

        After each evaluation the caller passes the Pareto tags of every
        candidate. Most of them do not change, so one evaluation costs one
        write per candidate whose rank or front membership moved.
        """
        from mlflow.entities import RunTag

        updated = 0
        for candidate_id, tags in tags_by_candidate.items():
            run_id = self.child_runs.get(candidate_id)
            if run_id is None:
                continue
            known = self._child_tags.setdefault(candidate_id, {})
            changed = {k: str(v) for k, v in tags.items() if known.get(k) != str(v)}
            if not changed:
                continue
            self.client.log_batch(run_id, tags=[RunTag(k, v) for k, v in changed.items()])
            known.update(changed)
            updated += 1
        return updated

    def log_artifact(self, path: str | Path, artifact_path: str | None = None) -> None:
        """Copy a file into the parent run's artifacts, under `artifact_path` when given."""
        self.client.log_artifact(self.parent_run_id, str(path), artifact_path)

    def finish(self, status: str = "FINISHED") -> None:
        if self.parent_run_id is not None:
            self.client.set_terminated(self.parent_run_id, status=status)

    def _log_params(self, run_id: str, params: dict[str, Any]) -> None:
        from mlflow.entities import Param

        items = [Param(k, _param_text(v)) for k, v in params.items()]
        for start in range(0, len(items), 100):  # MLflow accepts at most 100 params per batch
            self.client.log_batch(run_id, params=items[start : start + 100])


def pareto_tags(ranks: dict[str, int]) -> dict[str, dict[str, str]]:
    """Return the `pareto_rank` and `on_front` tags of each ranked candidate."""
    return {cid: {"pareto_rank": str(rank), "on_front": str(rank == 0).lower()} for cid, rank in ranks.items()}


def log_step(
    tracker: Tracker, records: list[dict[str, Any]], objectives: list[str], step: int,
    extra: dict[str, float] | None = None, maximize: Collection[str] = (),
) -> dict[str, float]:
    """Log the campaign's state after one evaluation; return the metrics logged.

    Child runs whose Pareto rank or front membership changed get new tags, and
    the parent run gets `step_metrics` (evaluated, feasible, failed,
    front_size, hypervolume) plus `extra` at `step`.
    """
    from shinka.campaign.results import front_ranks, step_metrics

    ranks = front_ranks(records, objectives, maximize)
    tracker.update_candidate_tags(pareto_tags(ranks))
    metrics = {**step_metrics(records, objectives, ranks, maximize), **(extra or {})}
    tracker.log_parent_metrics(metrics, step=step)
    return metrics


@dataclass(frozen=True)
class TrackingInfo:
    """Location of a campaign folder's MLflow runs. The parent run id is None when only the URI is known."""

    tracking_uri: str
    parent_run_id: str | None = None


def read_tracking_info(campaign_dir: str | Path) -> TrackingInfo:
    """Read the tracking URI and parent run id from campaign.json, else the URI from config.yaml.

    Raises UserError when neither file names a tracking URI.
    """
    from shinka.yamlio import read_yaml_mapping

    folder = Path(campaign_dir)
    metadata_path = folder / "campaign.json"
    if metadata_path.is_file():
        try:
            metadata = json.loads(metadata_path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as error:
            raise UserError(f"invalid JSON ({error.msg})", file=metadata_path, line=error.lineno) from None
        if isinstance(metadata, dict) and metadata.get("tracking_uri"):
            return TrackingInfo(absolute_tracking_uri(metadata["tracking_uri"]), metadata.get("parent_run_id"))
    config_path = folder / "config.yaml"
    if config_path.is_file():
        tracking = read_yaml_mapping(config_path, what="campaign config").get("tracking") or {}
        if tracking.get("uri"):
            return TrackingInfo(absolute_tracking_uri(str(tracking["uri"])))
    raise UserError(
        "campaign folder does not name its MLflow store", file=folder,
        allowed="a folder written by `shinka run` (campaign.json), or pass --store URI",
    )


def find_candidate_run(client: Any, info: TrackingInfo, candidate_id: str) -> tuple[str, str] | None:
    """Return (experiment id, run id) of a candidate's child run under the campaign's parent run, or None."""
    if info.parent_run_id is None:
        return None
    experiment_id = client.get_run(info.parent_run_id).info.experiment_id
    runs = client.search_runs(
        [experiment_id],
        filter_string=f"tags.candidate_id = '{candidate_id}' and tags.mlflow.parentRunId = '{info.parent_run_id}'",
        max_results=1,
    )
    return (experiment_id, runs[0].info.run_id) if runs else None


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
