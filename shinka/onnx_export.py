"""ONNX export of a trained candidate: the frozen model's full-sequence forward pass, returning logits.

The graph comes from torch.onnx.export's dynamo exporter (torch.export plus
onnxscript), with the batch and sequence axes dynamic. `Transformer.freeze`
rounds the weights to their formats once before export, so the ONNX file
computes with the values the campaign measured. The rounded weights are
stored as fp32 tensors.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

logger = logging.getLogger(__name__)

INPUT_NAME = "input_ids"
OUTPUT_NAME = "logits"
MAX_BATCH = 1024  # upper bound torch.export needs for the dynamic batch axis


class LogitsOnly(nn.Module):
    """Wraps a Transformer so that forward(input_ids) returns only logits (B, T, vocab)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        logits, _ = self.model(input_ids)  # (B, T, vocab)
        return logits


def export_onnx(model: nn.Module, path: str | Path) -> Path:
    """Write the frozen `model` (a Transformer in eval mode) as an ONNX file at `path`.

    Input `input_ids`: int64 (batch, sequence) with 1 <= sequence <= the model's
    context length. Output `logits`: float32 (batch, sequence, vocab).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    context = model.arch.context_length
    wrapper = LogitsOnly(model.eval())
    example = torch.zeros((1, min(8, context)), dtype=torch.long)  # (B, T)
    batch = torch.export.Dim("batch", min=1, max=MAX_BATCH)
    sequence = torch.export.Dim("sequence", min=1, max=context)
    # The exporter warns about optional packages (torchvision) and deprecated
    # internals on every call; they do not affect a transformer graph.
    quiet = logging.getLogger("torch.onnx")
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore", FutureWarning)
            warnings.simplefilter("ignore", UserWarning)
            program = torch.onnx.export(
                wrapper,
                (example,),
                dynamo=True,
                input_names=[INPUT_NAME],
                output_names=[OUTPUT_NAME],
                dynamic_shapes={"input_ids": {0: batch, 1: sequence}},
                verbose=False,
            )
    finally:
        quiet.setLevel(level)
    program.save(str(path))
    return path


def onnx_max_difference(path: str | Path, model: nn.Module, input_ids: np.ndarray) -> float:
    """Run the ONNX file in onnxruntime (CPU) and return the max absolute logit difference from torch."""
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (onnx_logits,) = session.run([OUTPUT_NAME], {INPUT_NAME: input_ids.astype(np.int64)})
    with torch.no_grad():
        torch_logits = LogitsOnly(model.eval())(torch.from_numpy(input_ids.astype(np.int64))).numpy()
    return float(np.max(np.abs(onnx_logits - torch_logits)))
