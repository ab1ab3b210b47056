"""MLflow models of trained candidates: logged to a candidate's run, saved to a folder, registered with an alias.

The model is the frozen Transformer wrapped to return logits only, saved by
the `mlflow.pytorch` flavor in its "pt2" format (a torch.export program, no
pickled Python classes), so loading it needs torch and numpy but no shinka
install. Its signature takes int64 token ids of shape (batch, sequence) and
returns float32 logits (batch, sequence, vocab).
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from shinka.errors import UserError

logger = logging.getLogger(__name__)

MODEL_NAME = "model"  # name of the logged model inside a candidate's run


def _signature(vocab_size: int):
    from mlflow.models import ModelSignature
    from mlflow.types import Schema, TensorSpec

    return ModelSignature(
        inputs=Schema([TensorSpec(np.dtype(np.int64), (-1, -1))]),  # (batch, sequence) token ids
        outputs=Schema([TensorSpec(np.dtype(np.float32), (-1, -1, vocab_size))]),  # (batch, sequence, vocab)
    )


def _flavor_arguments(model: Any) -> dict[str, Any]:
    import torch

    from shinka.onnx_export import LogitsOnly

    context = model.arch.context_length
    return {
        "pytorch_model": LogitsOnly(model.eval()),
        "signature": _signature(model.arch.vocab_size),
        # torch.export fixes any axis whose example size is 1, so the example has 2 sequences of 2+ tokens.
        "input_example": np.zeros((2, max(2, min(16, context))), dtype=np.int64),
        # NOTE: tested with MLflow 3.17.2, whose pytorch flavor takes serialization_format; older 3.x may not.
        "serialization_format": "pt2",
        # Stating the requirements skips MLflow's inference, which loads the model in a subprocess.
        "pip_requirements": [f"torch=={torch.__version__.split('+')[0]}", "numpy"],
    }


@contextlib.contextmanager
def _tracking_uri(uri: str) -> Iterator[None]:
    """Point the mlflow module at `uri` for the duration, then restore the previous URI."""
    import mlflow

    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(uri)
    try:
        yield
    finally:
        mlflow.set_tracking_uri(previous)


def save_mlflow_model(model: Any, folder: str | Path) -> Path:
    """Save a frozen Transformer as an MLflow model folder (pytorch flavor) at `folder`, which must not exist."""
    import mlflow.pytorch

    mlflow.pytorch.save_model(path=str(folder), **_flavor_arguments(model))
    return Path(folder)


def log_mlflow_model(tracking_uri: str, run_id: str, model: Any) -> str:
    """Log a frozen Transformer to the run `run_id` with `mlflow.pytorch.log_model`; return its model URI.

    The run is reopened for the call and set back to FINISHED afterwards.
    """
    import mlflow
    import mlflow.pytorch

    with _tracking_uri(tracking_uri), mlflow.start_run(run_id=run_id):
        info = mlflow.pytorch.log_model(name=MODEL_NAME, **_flavor_arguments(model))
    return info.model_uri


def logged_model_uri(client: Any, experiment_id: str, run_id: str) -> str | None:
    """Return the URI of the model already logged to `run_id`, or None."""
    models = client.search_logged_models(
        [experiment_id], filter_string=f"source_run_id = '{run_id}' AND name = '{MODEL_NAME}'", max_results=1
    )
    return f"models:/{models[0].model_id}" if models else None


def alias_for_profile(profile: str) -> str:
    """Return the registry alias `best-<profile>`, with characters MLflow rejects in aliases replaced by '-'."""
    return "best-" + re.sub(r"[^A-Za-z0-9_-]", "-", profile)


def register_model(tracking_uri: str, model_uri: str, name: str, alias: str, tags: dict[str, str]) -> str:
    """Register `model_uri` as a new version of `name`, point `alias` at it and tag it; return the version."""
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    try:
        with _tracking_uri(tracking_uri):
            import mlflow

            version = mlflow.register_model(model_uri, name, tags=tags)
        client.set_registered_model_alias(name, alias, version.version)
    except MlflowException as error:
        raise UserError(f"model registration failed: {error.message}", field="--register", value=name) from None
    logger.info("registered %s version %s as %s@%s", model_uri, version.version, name, alias)
    return str(version.version)


def log_front_models(tracker: Any, front_ids: list[str], campaign_dir: str | Path, limit: int) -> int:
    """Log the model of each front member to its child run at the end of a campaign; return how many.

    Nothing is logged when `limit` is 0 or the front has more than `limit`
    members, because each model takes seconds to log. A run that already has a
    model (a resumed campaign) is skipped. A model that fails to log is
    reported and skipped, so the finished campaign still ends normally.
    """
    from shinka.export import load_model

    if limit == 0 or len(front_ids) > limit:
        logger.info(
            "front models not logged to MLflow (%d members, tracking.log_models=%d); "
            "run `shinka export %s --front --format mlflow` to log them", len(front_ids), limit, campaign_dir,
        )
        return 0
    logged = 0
    for candidate in front_ids:
        run_id = tracker.child_runs.get(candidate)
        if run_id is None or logged_model_uri(tracker.client, tracker.experiment_id, run_id) is not None:
            continue
        try:
            model, _ = load_model(Path(campaign_dir) / "candidates" / candidate)
            log_mlflow_model(tracker.uri, run_id, model.freeze())
        except Exception as error:  # noqa: BLE001 - torch.export or the store can fail on one model
            logger.warning("model of candidate %s not logged to MLflow run %s: %s: %s",
                           candidate, run_id, type(error).__name__, error)
            continue
        logged += 1
    logger.info("logged %d front models to MLflow", logged)
    return logged
