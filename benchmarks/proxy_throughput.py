"""Training throughput of the proxy model: tokens/s, achieved FLOP/s and compression overhead.

For three model sizes this times full training steps (forward, backward,
gradient clipping, AdamW) of:
- a plain reference model written here with nn.Linear layers, no compression;
- shinka's Transformer of the same architecture, uncompressed (fp16 genes, which
  train in fp32 without rounding);
- shinka's Transformer with each compression kind.

Training FLOPs per step are 3x the forward FLOPs of the cost model (matmul,
attention and output head; backward costs about twice the forward pass).
Model FLOPs utilization (MFU) divides the achieved FLOP/s by the fp32 matmul
FLOP/s of a square matmul measured in the same run. The models of one size
are stepped round-robin, one step each per round, so that load from other
processes slows them alike. Step times are medians over the rounds.

Run: .venv/bin/python benchmarks/proxy_throughput.py [--rounds N] [--threads T]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
import torch
import torch.nn.functional as F
from torch import nn

from shinka.cost.counts import flops_per_token_prefill
from shinka.model.arch import ArchConfig, arch_from_values
from shinka.model.transformer import Transformer

SIZES = (
    {"d_model": 128, "n_layer": 2, "n_head": 4},
    {"d_model": 256, "n_layer": 4, "n_head": 4},
    {"d_model": 384, "n_layer": 4, "n_head": 6},
)
VARIANTS = {
    "shinka fp16 (uncompressed)": {},
    "int8": {"weight_format": "int8"},
    "int4 group 32": {"weight_format": "int4", "group_size": 32},
    "ternary": {"weight_format": "ternary"},
    "2:4 sparse": {"sparsity": "2:4"},
    "unstructured 50%": {"sparsity": 0.5},
    "ternary + 2:4": {"weight_format": "ternary", "sparsity": "2:4"},
    "low rank 0.5": {"rank_ratio": 0.5},
}
BATCH, CONTEXT, VOCAB = 16, 64, 256


class ReferenceBlock(nn.Module):
    """Pre-norm block with separate q, k, v, o projections and a GELU MLP, as shinka builds it."""

    def __init__(self, d_model: int, n_head: int) -> None:
        super().__init__()
        self.n_head = n_head
        self.norm_attention = nn.LayerNorm(d_model)
        self.q_proj = nn.Linear(d_model, d_model)
        self.k_proj = nn.Linear(d_model, d_model)
        self.v_proj = nn.Linear(d_model, d_model)
        self.o_proj = nn.Linear(d_model, d_model)
        self.norm_mlp = nn.LayerNorm(d_model)
        self.up = nn.Linear(d_model, 4 * d_model)
        self.down = nn.Linear(4 * d_model, d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, D = x.shape
        h = self.norm_attention(x)
        q = self.q_proj(h).view(B, T, self.n_head, -1).transpose(1, 2)  # (B, H, T, hd)
        k = self.k_proj(h).view(B, T, self.n_head, -1).transpose(1, 2)
        v = self.v_proj(h).view(B, T, self.n_head, -1).transpose(1, 2)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True).transpose(1, 2).reshape(B, T, D)
        x = x + self.o_proj(y)
        return x + self.down(F.gelu(self.up(self.norm_mlp(x))))


class ReferenceModel(nn.Module):
    """Minimal GPT with learned positions and a tied output head."""

    def __init__(self, d_model: int, n_layer: int, n_head: int) -> None:
        super().__init__()
        self.token_embedding = nn.Embedding(VOCAB, d_model)
        self.position_embedding = nn.Embedding(CONTEXT, d_model)
        self.blocks = nn.ModuleList(ReferenceBlock(d_model, n_head) for _ in range(n_layer))
        self.norm_final = nn.LayerNorm(d_model)
        for module in self.modules():
            if isinstance(module, (nn.Linear, nn.Embedding)):
                nn.init.normal_(module.weight, std=0.02)

    def forward(self, idx: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.token_embedding(idx) + self.position_embedding(torch.arange(idx.shape[1]))  # (B, T, d)
        for block in self.blocks:
            x = block(x)
        logits = F.linear(self.norm_final(x), self.token_embedding.weight)  # (B, T, vocab)
        return logits, F.cross_entropy(logits.reshape(-1, VOCAB), targets.reshape(-1))


def matmul_seconds(a: torch.Tensor, b: torch.Tensor) -> float:
    """Return the seconds of one a @ b."""
    started = time.perf_counter()
    a @ b
    return time.perf_counter() - started


class Trainer:
    """One model with its optimizer and data, stepped one timed training step at a time."""

    def __init__(self, model: nn.Module, seed: int = 0) -> None:
        self.model = model.train()
        self.optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
        self.generator = torch.Generator().manual_seed(seed)
        self.times: list[float] = []

    def step(self, record: bool) -> None:
        batch = torch.randint(0, VOCAB, (BATCH, CONTEXT + 1), generator=self.generator)  # (B, T + 1)
        started = time.perf_counter()
        _, loss = self.model(batch[:, :-1], batch[:, 1:])
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
        self.optimizer.step()
        if record:
            self.times.append(time.perf_counter() - started)


def training_flops_per_step(arch: ArchConfig) -> float:
    """Return 3x the forward FLOPs of one step of BATCH x CONTEXT tokens."""
    return 3 * flops_per_token_prefill(arch, CONTEXT)["total"] * BATCH * CONTEXT


def _row(label: str, seconds: float, flops: float, peak: float, reference: float, base: float) -> str:
    tokens = BATCH * CONTEXT / seconds
    achieved = flops / seconds
    return (
        f"| {label} | {seconds * 1e3:.1f} | {tokens:,.0f} | {achieved / 1e9:.1f} | {100 * achieved / peak:.0f}% "
        f"| {seconds / reference:.2f} | {seconds / base:.2f} |"
    )


def run_size(size: dict, rounds: int, warmup: int) -> None:
    """Time every model of one size in interleaved rounds and print the table of medians."""
    values = {**size, "vocab_size": VOCAB, "context_length": CONTEXT}
    torch.manual_seed(0)
    trainers = {"reference nn.Linear loop": Trainer(ReferenceModel(size["d_model"], size["n_layer"], size["n_head"]))}
    flops = {"reference nn.Linear loop": training_flops_per_step(arch_from_values(values))}
    for label, genes in VARIANTS.items():
        arch = arch_from_values({**values, **genes})
        trainers[label] = Trainer(Transformer(arch))
        flops[label] = training_flops_per_step(arch)  # low rank lowers the real FLOPs; MFU uses each model's own
    a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
    matmul: list[float] = []
    # Round-robin over the models, so load from other processes hits all of them alike.
    for round_index in range(warmup + rounds):
        record = round_index >= warmup
        matmul.append(matmul_seconds(a, b))
        for trainer in trainers.values():
            trainer.step(record)
    peak = 2 * 1024**3 / statistics.median(matmul[warmup:])
    print(f"\n### d_model {size['d_model']}, {size['n_layer']} layers, {size['n_head']} heads")
    print(f"fp32 matmul 1024x1024x1024: {peak / 1e9:.1f} GFLOP/s (median of {rounds}, interleaved with the steps)")
    print(f"training FLOPs per step (3x forward, uncompressed): {flops['reference nn.Linear loop'] / 1e9:.2f} GFLOP")
    print("| model | step ms | tokens/s | GFLOP/s | MFU | vs reference | vs shinka fp16 |")
    print("|---|---|---|---|---|---|---|")
    reference = statistics.median(trainers["reference nn.Linear loop"].times)
    base = statistics.median(trainers["shinka fp16 (uncompressed)"].times)
    for label, trainer in trainers.items():
        print(_row(label, statistics.median(trainer.times), flops[label], peak, reference, base))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10, help="timed training steps per model (default 10)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps per model first (default 2)")
    parser.add_argument(
        "--threads", type=int, default=1,
        help="torch threads (default 1, as one proxy-training worker of a campaign uses)",
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {platform.machine()}, {os.cpu_count()} CPUs")
    print(f"batch {BATCH} x context {CONTEXT} = {BATCH * CONTEXT} tokens per step, {args.rounds} timed rounds")
    for size in SIZES:
        run_size(size, args.rounds, args.warmup)


if __name__ == "__main__":
    main()
