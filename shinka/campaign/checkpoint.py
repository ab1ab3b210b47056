"""The campaign folder's durable state: metadata and the controller checkpoint."""

from __future__ import annotations

import json
import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shinka.errors import UserError
from shinka.search.base import Proposal, Strategy
from shinka.yamlio import write_bytes_atomic

METADATA_FILE = "campaign.json"
CHECKPOINT_FILE = "checkpoint.pkl"
JOURNAL_FILE = "journal.jsonl"


@dataclass
class ControllerState:
    """State the driver needs to continue: the strategy (with its random state) and the evaluations in flight."""

    strategy: Strategy
    in_flight: dict[str, Proposal] = field(default_factory=dict)  # candidate id -> proposal, in ask order
    told: set[str] = field(default_factory=set)  # candidate ids whose result the strategy has seen


def save_checkpoint(folder: Path, state: ControllerState) -> None:
    """Pickle the controller state to checkpoint.pkl through a temporary file and os.replace."""
    write_bytes_atomic(folder / CHECKPOINT_FILE, pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL))


def load_checkpoint(folder: Path) -> ControllerState | None:
    path = folder / CHECKPOINT_FILE
    if not path.is_file():
        return None
    with open(path, "rb") as stream:
        return pickle.load(stream)  # noqa: S301 - a file this program wrote into the user's own campaign folder


def save_metadata(folder: Path, metadata: dict[str, Any]) -> None:
    write_bytes_atomic(folder / METADATA_FILE, (json.dumps(metadata, indent=2, sort_keys=True) + "\n").encode())


def load_metadata(folder: Path) -> dict[str, Any]:
    path = folder / METADATA_FILE
    if not path.is_file():
        raise UserError("not a campaign folder (campaign.json is missing)", file=folder, allowed="a folder written by `shinka run`")
    return json.loads(path.read_text(encoding="utf-8"))
