"""Saving and loading trained candidates (a config file plus safetensors weights), and `export_top`."""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any

from shinka.model.arch import ArchConfig
from shinka.yamlio import dump_yaml, write_text_atomic

CONFIG_FILE = "model.yaml"
WEIGHTS_FILE = "model.safetensors"


def save_candidate(
    folder: str | Path, arch: ArchConfig, genome: dict[str, Any], state_dict: dict, metrics: dict[str, float]
) -> Path:
    """Write a candidate's model config (genome, architecture, metrics) and weights into `folder`.

    Both files go through a temporary name and os.replace, so a crash leaves
    either the old files or the new ones.
    """
    from safetensors.torch import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=".weights.", suffix=".tmp")
    os.close(handle)
    try:
        # safetensors rejects tensors that share memory, e.g. tied embeddings.
        tensors = {name: tensor.contiguous().clone() for name, tensor in state_dict.items()}
        save_file(tensors, temporary, metadata={"format": "pt"})
        os.replace(temporary, folder / WEIGHTS_FILE)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    document = {"genome": dict(genome), "arch": arch.to_dict(), "metrics": metrics}
    write_text_atomic(folder / CONFIG_FILE, dump_yaml(json.loads(json.dumps(document))))
    return folder


def load_model(folder: str | Path):
    """Load an exported or saved candidate folder back into a Transformer (eval mode)."""
    from safetensors.torch import load_file

    from shinka.model.transformer import Transformer
    from shinka.yamlio import read_yaml_mapping

    folder = Path(folder)
    document = read_yaml_mapping(folder / CONFIG_FILE, what="model config")
    model = Transformer(ArchConfig.from_dict(document["arch"]))
    state = load_file(str(folder / WEIGHTS_FILE))
    if model.lm_head is None and "lm_head.weight" in state:
        state.pop("lm_head.weight")
    model.load_state_dict(state)
    return model.eval(), document


def safe_name(text: str) -> str:
    """Return `text` reduced to letters, digits, dot, dash and underscore, never '.' or '..'."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]", "_", text).strip(".") or "candidate"
    return cleaned


def export_top(campaign_dir: str | Path, out_dir: str | Path, top: int) -> list[Path]:
    """Copy the `top` best candidates of a campaign (config and weights) to `out_dir`; return the folders.

    Front members come first, ordered by the first objective; when the front has
    fewer than `top` members, the next ranks fill in. Folders are named
    `NN-<candidate id>`.
    """
    from shinka.export_candidates import export_candidates

    exported = export_candidates(campaign_dir, out_dir, top=top, formats=["config", "safetensors"])
    return [item.folder for item in exported]
