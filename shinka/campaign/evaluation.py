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

from shinka.hardware.measure import measure_latency
from shinka.model.arch import ArchConfig
from shinka.model.transformer import Transformer
from shinka.proxy.train import TrainingDiverged, TrainSettings, train_proxy


def train_candidate(
    arch_dict: dict[str, Any], train: np.ndarray, validation: np.ndarray, settings: TrainSettings, threads: int
) -> dict[str, Any]:
    """Train one candidate; return metrics and its state dict, or a failure with its reason."""
    torch.set_num_threads(threads)
    try:
        result = train_proxy(ArchConfig.from_dict(arch_dict), train, validation, settings)
    except TrainingDiverged as error:
        return {"status": "failed", "reason": f"diverged: {error}"}
    except MemoryError:
        return {"status": "failed", "reason": "out of memory"}
    except Exception as error:  # a candidate that fails to build or train must not stop the campaign
        return {
            "status": "failed",
            "reason": f"{type(error).__name__}: {error}",
            "traceback": traceback.format_exc(limit=5),
        }
    model = result.pop("model")
    state = {name: tensor.detach().clone() for name, tensor in model.state_dict().items()}
    return {"status": "ok", "state_dict": state, **result}


def measure_candidate(
    arch_dict: dict[str, Any], state_dict: dict[str, torch.Tensor], threads: int, batch: int, context: int | None,
    warmup: int, repeats: int,
) -> dict[str, Any]:
    """Measure prefill and decode latency of the trained model on this machine."""
    torch.set_num_threads(threads)
    model = Transformer(ArchConfig.from_dict(arch_dict))
    model.load_state_dict(state_dict)
    latency = measure_latency(model, batch=batch, context=context, warmup=warmup, repeats=repeats)
    if not all(math.isfinite(v) for v in latency.values()):
        raise RuntimeError(f"non-finite latency {latency}")
    return latency
