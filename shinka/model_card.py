"""A short model card (Markdown) for an exported candidate, built from its journal record."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

# Per-profile metrics in the card's table, with their column headings (units included).
PROFILE_COLUMNS = (
    ("latency_ms_per_token_decode", "decode latency (ms/token)"),
    ("latency_ms_prefill", "prefill latency (ms)"),
    ("energy_mj_per_token", "decode energy (mJ/token)"),
    ("energy_mj_prefill", "prefill energy (mJ)"),
    ("memory_mb", "memory (MB)"),
    ("fits_memory", "fits memory"),
)


def _format(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        if value.is_integer() and abs(value) >= 1000:
            return f"{int(value):,}"
        return f"{value:.4g}"
    return str(value)


def _cell(key: str, value: Any) -> str:
    if key == "fits_memory" and value is not None:
        return "yes" if value else "no"
    return _format(value)


def _profiles(metrics: dict[str, Any]) -> list[str]:
    return sorted({key.partition("@")[2] for key in metrics if "@" in key})


def render_model_card(
    record: dict[str, Any],
    campaign: Any,
    pareto_rank: int | None,
    files: dict[str, str],
    onnx_difference: float | None = None,
) -> str:
    """Return the model card text for one candidate.

    `campaign` is a CampaignFolder; `files` maps each written file name to what it holds.
    """
    metrics = record["metrics"]
    sources = record.get("sources", {})
    proxy = campaign.config.get("proxy") or {}
    hardware = campaign.config.get("hardware") or {}
    candidate = record["candidate_id"]
    lines = [
        f"# Model card: candidate {candidate}",
        "",
        (f"Campaign `{campaign.name}` ({campaign.strategy} search), exported "
         f"{dt.datetime.now(dt.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}."),
        "",
        ("A byte-level, decoder-only transformer found by an architecture search. It was trained as a "
         f"search proxy only: {_format(metrics.get('train_tokens'))} tokens of the `{proxy.get('corpus', '?')}` "
         f"corpus, in sequences of {proxy.get('sequence_length', '?')} tokens. Its numbers rank candidates against "
         "each other, so train it further before using it as a language model."),
        "",
        "## Genome",
        "",
        "| gene | value |",
        "| --- | --- |",
    ]
    lines += [f"| {name} | {value} |" for name, value in sorted(record["genome"].items())]
    lines += [
        "",
        (f"Parameters: {_format(metrics.get('params_total'))} "
         f"({_format(metrics.get('params_non_embedding'))} outside the embedding). "
         f"Weights: {_format(metrics.get('weight_mb'))} MB in their compressed formats. "
         f"KV cache: {_format(metrics.get('kv_cache_bytes_per_token'))} bytes per token."),
        "",
        "## Objectives (minimized)",
        "",
        "| objective | value |",
        "| --- | --- |",
    ]
    lines += [f"| {o} | {_format(metrics.get(o))} |" for o in campaign.objectives]
    if pareto_rank is None:
        rank_text = "not ranked"
    elif pareto_rank == 0:
        rank_text = "on the Pareto front"
    else:
        rank_text = f"Pareto rank {pareto_rank}"
    lines += [
        "",
        (f"Validation: {_format(metrics.get('val_bpb'))} bits per byte "
         f"({_format(metrics.get('val_loss'))} nats per token). In its campaign it is {rank_text}."),
        "",
        "## On every profile",
        "",
        (f"Workload: batch {hardware.get('batch_size', 1)}, context of "
         f"{hardware.get('context_length') or 'context_length (the genome value)'} tokens. "
         "`measured` numbers come from timing the model on the campaign machine, `estimated` ones from the "
         "roofline model."),
        "",
        "| profile | " + " | ".join(title for _, title in PROFILE_COLUMNS) + " | source |",
        "| --- " * (len(PROFILE_COLUMNS) + 2) + "|",
    ]
    for profile in _profiles(metrics):
        cells = [_cell(key, metrics.get(f"{key}@{profile}")) for key, _ in PROFILE_COLUMNS]
        kinds = sorted({sources.get(f"{key}@{profile}") for key, _ in PROFILE_COLUMNS} - {None})
        lines.append(f"| {profile} | " + " | ".join(cells) + f" | {', '.join(kinds) or 'n/a'} |")
    lines += ["", "## Files", ""]
    lines += [f"- `{name}`: {description}" for name, description in files.items()]
    if onnx_difference is not None:
        lines += ["", f"onnxruntime reproduces the torch logits to a max absolute difference of {onnx_difference:.2g}."]
    lines += [
        "",
        "## Load it",
        "",
        "```python",
        "from shinka.export import load_model",
        "model, config = load_model('.')  # model.yaml + model.safetensors, with shinka installed",
        "model.freeze()  # quantize the weights once, as the ONNX and MLflow models are",
        "logits, _ = model(input_ids)  # input_ids: int64 tensor (batch, sequence)",
        "",
        "import onnxruntime  # no shinka needed",
        "session = onnxruntime.InferenceSession('model.onnx')",
        "(logits,) = session.run(['logits'], {'input_ids': input_ids_numpy})",
        "",
        "import mlflow  # no shinka needed",
        "logits = mlflow.pyfunc.load_model('mlflow_model').predict(input_ids_numpy)",
        "```",
        "",
    ]
    return "\n".join(lines)
