"""Proxy training: a fixed token budget from a fixed seed, scored by validation bits per byte."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import torch

from shinka.model.arch import ArchConfig
from shinka.model.transformer import Transformer


class TrainingDiverged(RuntimeError):
    """The training loss became NaN or infinite."""


@dataclass(frozen=True)
class TrainSettings:
    """Proxy-training settings; the token budget is the same for every candidate."""

    train_tokens: int = 131_072  # tokens seen in training, over all steps
    batch_size: int = 16  # sequences per step
    sequence_length: int = 64  # tokens per training sequence; at most the genome's context_length
    learning_rate: float = 3e-3  # peak AdamW learning rate
    weight_decay: float = 0.01
    warmup_share: float = 0.1  # share of steps with a linear warm-up
    validation_tokens: int = 16_384  # tokens scored for validation bits per byte
    seed: int = 0
    time_limit_s: float | None = None  # wall-clock limit of training plus validation; None is no limit


def _validation_windows(validation: np.ndarray, length: int, tokens: int) -> torch.Tensor:
    """Cut the first `tokens` validation bytes into non-overlapping windows of length + 1."""
    count = max(1, min(tokens, len(validation) - 1) // length)
    usable = count * length + 1
    data = torch.from_numpy(validation[:usable].astype(np.int64))
    windows = [data[i * length : i * length + length + 1] for i in range(count) if i * length + length + 1 <= len(data)]
    return torch.stack(windows)  # (count, length + 1)


@torch.no_grad()
def validation_loss(model: Transformer, validation: np.ndarray, settings: TrainSettings) -> float:
    """Return the mean cross-entropy (nats per byte) on the fixed validation windows."""
    model.eval()
    length = min(settings.sequence_length, model.arch.context_length)
    windows = _validation_windows(validation, length, settings.validation_tokens)
    total, count = 0.0, 0
    for batch in windows.split(64):
        _, loss = model(batch[:, :-1], batch[:, 1:])
        total += loss.item() * batch.shape[0]
        count += batch.shape[0]
    return total / count


def train_proxy(arch: ArchConfig, train: np.ndarray, validation: np.ndarray, settings: TrainSettings) -> dict:
    """Train a fresh model of `arch` and return its state, validation loss and timings.

    Raises TrainingDiverged on a NaN or infinite loss, and EvaluationTimeout
    when `settings.time_limit_s` passes (checked after every step).
    """
    from shinka.campaign.failures import EvaluationTimeout

    torch.manual_seed(settings.seed)
    generator = torch.Generator().manual_seed(settings.seed)
    model = Transformer(arch)
    length = min(settings.sequence_length, arch.context_length)
    steps = max(1, math.ceil(settings.train_tokens / (settings.batch_size * length)))
    optimizer = torch.optim.AdamW(model.parameters(), lr=settings.learning_rate, weight_decay=settings.weight_decay, betas=(0.9, 0.95))
    warmup = max(1, int(steps * settings.warmup_share))

    def learning_rate_factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = (step - warmup) / max(1, steps - warmup)
        return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, learning_rate_factor)
    data = torch.from_numpy(train.astype(np.int64))
    started = time.perf_counter()
    model.train()
    loss_value = float("nan")
    for _ in range(steps):
        starts = torch.randint(0, len(data) - length - 1, (settings.batch_size,), generator=generator)
        batch = torch.stack([data[s : s + length + 1] for s in starts.tolist()])  # (B, length + 1)
        _, loss = model(batch[:, :-1], batch[:, 1:])
        loss_value = loss.item()
        if not math.isfinite(loss_value):
            raise TrainingDiverged(f"training loss is {loss_value}")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        if settings.time_limit_s is not None and time.perf_counter() - started > settings.time_limit_s:
            raise EvaluationTimeout(f"training passed the {settings.time_limit_s:g} s limit")
    train_seconds = time.perf_counter() - started
    val_loss = validation_loss(model, validation, settings)
    if not math.isfinite(val_loss):
        raise TrainingDiverged(f"validation loss is {val_loss}")
    return {
        "model": model,
        "val_loss": val_loss,
        "val_bpb": val_loss / math.log(2),
        "train_loss": loss_value,
        "train_seconds": train_seconds,
        "train_steps": steps,
        "train_tokens": steps * settings.batch_size * length,
    }
