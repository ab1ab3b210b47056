"""`shinka export`: choose candidates of a campaign and write them as deployable files.

For each chosen candidate, one folder under the output folder receives the
formats asked for (model config, safetensors weights, ONNX graph, MLflow
model) and a model card. A folder is built under a temporary name inside the
output folder and renamed when complete. Folder names keep only letters,
digits, dot, dash and underscore, and a resolved target outside the output
folder is rejected, so nothing is written outside it.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from shinka.campaign.results import (
    CampaignFolder,
    best_for_profile,
    front_table,
    load_campaign_folder,
)
from shinka.errors import UserError
from shinka.export import CONFIG_FILE, WEIGHTS_FILE, load_model, safe_name

logger = logging.getLogger(__name__)

FORMATS = ("config", "safetensors", "onnx", "mlflow")
ONNX_FILE = "model.onnx"
MLFLOW_DIR = "mlflow_model"
CARD_FILE = "MODEL_CARD.md"
ONNX_TOLERANCE = 1e-4  # max absolute logit difference accepted between onnxruntime and torch


@dataclass
class ExportedCandidate:
    """One written candidate folder and what went into it."""

    candidate_id: str
    folder: Path
    files: list[str]
    model_uri: str | None = None  # MLflow model URI when logged to the campaign's store
    onnx_difference: float | None = None


def parse_formats(text: str | list[str]) -> list[str]:
    """Parse a comma-separated format list; raise UserError on an unknown format."""
    items = text if isinstance(text, list) else [part.strip() for part in text.split(",")]
    items = [item for item in items if item]
    unknown = [item for item in items if item not in FORMATS]
    if unknown or not items:
        raise UserError("unknown export format", field="--format", value=",".join(unknown) or text,
                        allowed=", ".join(FORMATS))
    return [f for f in FORMATS if f in items]


def select_candidates(
    campaign: CampaignFolder,
    *,
    candidates: list[str] | None = None,
    front: bool = False,
    best_for: str | None = None,
    top: int | None = None,
) -> list[tuple[str, str]]:
    """Return (folder name, candidate id) pairs for exactly one selection rule.

    `top` and `front` folders are named `NN-<id>` in front order (rank, then the
    first objective); `candidates` and `best_for` folders are named `<id>`.
    """
    chosen = [candidates is not None, front, best_for is not None, top is not None]
    if sum(chosen) != 1:
        raise UserError("choose exactly one of --candidate, --front, --best-for, --top")
    table = front_table(campaign.records, campaign.objectives, campaign.maximize)
    if candidates is not None:
        by_id = {r["candidate_id"]: r for r in campaign.records}
        for candidate in candidates:
            if candidate not in by_id:
                raise UserError("candidate not found in the campaign journal", field="--candidate", value=candidate,
                                allowed="an id printed by `shinka front`")
            if by_id[candidate].get("status") != "ok":
                raise UserError("candidate failed, so it has no weights", field="--candidate", value=candidate)
        return [(safe_name(c), c) for c in dict.fromkeys(candidates)]
    if table.empty:
        raise UserError("the campaign has no successful candidate yet", file=campaign.path)
    if best_for is not None:
        candidate = best_for_profile(campaign.records, campaign.objectives, best_for, campaign.maximize)
        return [(safe_name(candidate), candidate)]
    if front:
        ids = list(table[table["on_front"]]["candidate_id"])
    else:
        if top < 1:
            raise UserError("invalid --top", field="--top", value=top, allowed="an integer >= 1")
        ids = list(table["candidate_id"].head(top))
    return [(safe_name(f"{rank:02d}-{cid}"), cid) for rank, cid in enumerate(ids, start=1)]


def export_candidates(
    campaign_dir: str | Path,
    out_dir: str | Path,
    *,
    candidates: list[str] | None = None,
    front: bool = False,
    best_for: str | None = None,
    top: int | None = None,
    formats: list[str] | str = ("config", "safetensors"),
) -> list[ExportedCandidate]:
    """Export the chosen candidates of a campaign into `out_dir`; return what was written.

    With "mlflow" in `formats`, each model is also logged to its candidate run in
    the campaign's MLflow store, unless one is logged there already. A campaign
    folder that names no store gets the local MLflow model folder only.
    """
    formats = parse_formats(list(formats) if not isinstance(formats, str) else formats)
    campaign = load_campaign_folder(campaign_dir)
    _check_has_models(campaign)
    selected = select_candidates(campaign, candidates=candidates, front=front, best_for=best_for, top=top)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    store = None
    if "mlflow" in formats:
        try:
            store = _Store(campaign)
        except UserError as error:
            logger.warning("models are not logged to MLflow: %s", error)
    ranks = _ranks(campaign)
    records = {r["candidate_id"]: r for r in campaign.records}

    exported = []
    for folder_name, candidate in selected:
        target = out / folder_name
        if out.resolve() not in target.resolve().parents:
            raise UserError("export path escapes the output folder", field="--out", value=str(target))
        item = _write_candidate(campaign, records[candidate], ranks.get(candidate), target, formats, store)
        exported.append(item)
        logger.info("exported %s to %s (%s)", candidate, target, ", ".join(item.files))
    return exported


def _check_has_models(campaign: CampaignFolder) -> None:
    function = campaign.config.get("objective_function")
    if function:
        raise UserError(
            "this campaign scored an objective function, so its candidates have no model to export",
            file=campaign.path / "config.yaml", field="objective_function", value=function,
            allowed="a transformer campaign folder (use `shinka front --csv` for this one's results)",
        )


def _ranks(campaign: CampaignFolder) -> dict[str, int]:
    table = front_table(campaign.records, campaign.objectives, campaign.maximize)
    return dict(zip(table.get("candidate_id", []), table.get("pareto_rank", [])))


def _write_candidate(
    campaign: CampaignFolder, record: dict[str, Any], rank: int | None, target: Path, formats: list[str], store: _Store | None
) -> ExportedCandidate:
    from shinka.model_card import render_model_card

    candidate = record["candidate_id"]
    source = campaign.path / "candidates" / candidate
    if not (source / WEIGHTS_FILE).is_file() or not (source / CONFIG_FILE).is_file():
        raise UserError("candidate weights not found", file=source, value=candidate,
                        allowed="a candidate folder with model.yaml and model.safetensors")
    item = ExportedCandidate(candidate, target, [])
    descriptions: dict[str, str] = {}
    # mkdir (not mkdtemp, which makes the folder private) so the result gets the user's usual permissions.
    building = target.parent / f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    building.mkdir()
    try:
        if "config" in formats:
            shutil.copyfile(source / CONFIG_FILE, building / CONFIG_FILE)
            descriptions[CONFIG_FILE] = "genome, architecture and every metric of the campaign"
        if "safetensors" in formats:
            shutil.copyfile(source / WEIGHTS_FILE, building / WEIGHTS_FILE)
            descriptions[WEIGHTS_FILE] = "trained fp32 weights, before quantization (`freeze()` rounds them)"
        if "onnx" in formats or "mlflow" in formats:
            model, _ = load_model(source)
            model.freeze()
            if "onnx" in formats:
                item.onnx_difference = _write_onnx(model, building / ONNX_FILE)
                descriptions[ONNX_FILE] = (
                    "inference graph: input_ids int64 (batch, sequence <= context length) -> "
                    "logits float32 (batch, sequence, vocab)"
                )
            if "mlflow" in formats:
                from shinka.export_mlflow import save_mlflow_model

                save_mlflow_model(model, building / MLFLOW_DIR)
                descriptions[MLFLOW_DIR + "/"] = "MLflow model (pytorch flavor), int64 token ids -> logits"
                if store is not None:
                    item.model_uri = store.model_uri(candidate, model)
        descriptions[CARD_FILE] = "this card"
        card = render_model_card(record, campaign, rank, descriptions, item.onnx_difference)
        (building / CARD_FILE).write_text(card, encoding="utf-8")  # the folder is renamed into place when complete
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        elif target.exists() or target.is_symlink():
            target.unlink()
        os.replace(building, target)
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise
    item.files = list(descriptions)
    return item


def _write_onnx(model: Any, path: Path) -> float:
    from shinka.onnx_export import export_onnx, onnx_max_difference

    export_onnx(model, path)
    length = min(16, model.arch.context_length)
    input_ids = np.random.default_rng(0).integers(0, model.arch.vocab_size, size=(2, length))  # (B, T)
    difference = onnx_max_difference(path, model, input_ids)
    if difference > ONNX_TOLERANCE:
        logger.warning("ONNX logits differ from torch by up to %.3g (tolerance %.0e): %s", difference, ONNX_TOLERANCE, path)
    return difference


class _Store:
    """The campaign's MLflow store, opened on first use."""

    def __init__(self, campaign: CampaignFolder) -> None:
        from shinka.campaign.tracking import read_tracking_info

        self.campaign = campaign
        self.info = read_tracking_info(campaign.path)
        self._client = None
        self._uris: dict[str, str] = {}

    @property
    def client(self) -> Any:
        if self._client is None:
            from mlflow.tracking import MlflowClient

            self._client = MlflowClient(tracking_uri=self.info.tracking_uri)
        return self._client

    def run(self, candidate: str) -> tuple[str, str]:
        """Return (experiment id, run id) of the candidate's child run; raise UserError when the store lacks it."""
        from shinka.campaign.tracking import find_candidate_run

        found = find_candidate_run(self.client, self.info, candidate)
        if found is None:
            raise UserError("candidate run not found in the campaign's MLflow store", value=candidate,
                            allowed=f"a campaign whose store {self.info.tracking_uri} still has its runs")
        return found

    def model_uri(self, candidate: str, model: Any = None) -> str:
        """Return the candidate's logged model URI, logging the model first when its run has none."""
        from shinka.export_mlflow import log_mlflow_model, logged_model_uri

        if candidate in self._uris:
            return self._uris[candidate]
        experiment_id, run_id = self.run(candidate)
        uri = logged_model_uri(self.client, experiment_id, run_id)
        if uri is None:
            if model is None:
                model, _ = load_model(self.campaign.path / "candidates" / candidate)
                model.freeze()
            uri = log_mlflow_model(self.info.tracking_uri, run_id, model)
        self._uris[candidate] = uri
        return uri


@dataclass
class Registration:
    """One registry entry written by `register_best`."""

    profile: str
    candidate_id: str
    name: str
    alias: str
    version: str
    model_uri: str


def register_best(campaign_dir: str | Path, name: str) -> list[Registration]:
    """Register the best candidate of every campaign profile as a version of `name` with alias `best-<profile>`.

    The best candidate is `best_for_profile`'s pick. Its model is logged to its
    run first when the run has none. Raises UserError when the campaign folder
    names no MLflow store or the store lacks the campaign's runs.
    """
    from shinka.export_mlflow import alias_for_profile, register_model

    campaign = load_campaign_folder(campaign_dir)
    _check_has_models(campaign)
    store = _Store(campaign)
    registrations = []
    for profile in campaign.profiles:
        candidate = best_for_profile(campaign.records, campaign.objectives, profile, campaign.maximize)
        uri = store.model_uri(candidate)
        alias = alias_for_profile(profile)
        tags = {"candidate_id": candidate, "profile": profile, "campaign": campaign.name}
        version = register_model(store.info.tracking_uri, uri, name, alias, tags)
        registrations.append(Registration(profile, candidate, name, alias, version, uri))
    return registrations
