"""What one evaluation runs inside a Ray task: proxy training and latency measurement.

These functions run in Ray worker processes. Ray reuses workers, so each task
sets torch's thread count itself.
"""

from __future__ import annotations

import math
import traceback
from typing import Any

import numpy as np
import torch

from shinka.hardware.measure import measure_latency, release_free_memory, rss_bytes
from shinka.model.arch import ArchConfig
from shinka.model.transformer import Transformer
from shinka.campaign.failures import ERROR, classify_exception
from shinka.proxy.train import TrainSettings, train_proxy


def train_candidate(
    arch_dict: dict[str, Any], train: np.ndarray, validation: np.ndarray, settings: TrainSettings, threads: int
) -> dict[str, Any]:
    """Train one candidate; return metrics and its state dict, or a failure with its reason."""
    torch.set_num_threads(threads)
    node_id = _node_id()
    try:
        result = train_proxy(ArchConfig.from_dict(arch_dict), train, validation, settings)
    except Exception as error:  # a candidate that fails to build or train must not stop the campaign
        kind = classify_exception(error)
        reason = f"{kind}: {error}" if kind != ERROR else f"{type(error).__name__}: {error}"
        return {
            "status": "failed",
            "failure_kind": kind,
            "reason": reason,
            "traceback": traceback.format_exc(limit=5),
            "node_id": node_id,
        }
    model = result.pop("model")
    state = {name: tensor.detach().clone() for name, tensor in model.state_dict().items()}
    return {"status": "ok", "state_dict": state, "node_id": node_id, **result}


def _node_id() -> str | None:
    import ray

    return ray.get_runtime_context().get_node_id() if ray.is_initialized() else None


def measure_candidate(
    arch_dict: dict[str, Any], state_dict: dict[str, torch.Tensor], threads: int, batch: int, context: int | None,
    warmup: int, repeats: int,
) -> dict[str, Any]:
    """Measure latency (ms), peak memory (MB) and, where RAPL is readable, energy (mJ) of the trained model.

    measured_memory_mb counts from RSS before the model is built, so it includes
    the fp32 weights. Energy keys are present only when measured; the campaign
    keeps its estimates, marked "estimated", for the others.
    """
    torch.set_num_threads(threads)
    release_free_memory()
    baseline = rss_bytes()
    model = Transformer(ArchConfig.from_dict(arch_dict))
    model.load_state_dict(state_dict)
    latency = measure_latency(
        model, batch=batch, context=context, warmup=warmup, repeats=repeats, threads=threads,
        memory_baseline_bytes=baseline,
    )
    if not all(math.isfinite(v) for v in latency.values()):
        raise RuntimeError(f"non-finite latency {latency}")
    return latency
