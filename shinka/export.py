"""Saving, exporting and loading trained candidates: a config file plus safetensors weights."""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

from shinka.errors import UserError
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
    """Copy the `top` best front members (by the first objective) of a campaign to `out_dir`.

    Front members come first, ordered by the first objective; when the front has
    fewer than `top` members, the next ranks fill in.
    """
    import pandas as pd

    campaign_dir, out_dir = Path(campaign_dir), Path(out_dir)
    front_csv = campaign_dir / "front.csv"
    if not front_csv.is_file():
        raise UserError("campaign folder has no front.csv (did the campaign finish?)", file=campaign_dir)
    if top < 1:
        raise UserError("invalid --top", field="--top", value=top, allowed="an integer >= 1")
    table = pd.read_csv(front_csv, dtype={"candidate_id": str})
    exported = []
    out_dir.mkdir(parents=True, exist_ok=True)
    for rank, row in enumerate(table.head(top).itertuples(index=False), start=1):
        source = campaign_dir / "candidates" / str(row.candidate_id)
        if not (source / WEIGHTS_FILE).is_file():
            raise UserError("candidate weights not found", file=source, value=str(row.candidate_id))
        target = out_dir / safe_name(f"{rank:02d}-{row.candidate_id}")
        if out_dir.resolve() not in target.resolve().parents:
            raise UserError("export path escapes the output folder", value=str(target))
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(source, target)
        exported.append(target)
    return exported
