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
FLOP/s of a square matmul measured in the same run. Step times are medians.

Run: .venv/bin/python benchmarks/proxy_throughput.py [--steps N] [--threads T]
"""

from __future__ import annotations

import argparse
import math
import platform
import statistics
import time
from typing import Callable

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


def matmul_flops_per_second(size: int = 1024, repeats: int = 20) -> float:
    """Return the median fp32 FLOP/s of a (size x size) @ (size x size) matmul."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    for _ in range(3):
        a @ b
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - started)
    return 2 * size**3 / statistics.median(times)


def step_seconds(model: nn.Module, steps: int, warmup: int = 3) -> float:
    """Return the median seconds of one training step on random tokens."""
    generator = torch.Generator().manual_seed(0)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model.train()
    times = []
    for step in range(warmup + steps):
        batch = torch.randint(0, VOCAB, (BATCH, CONTEXT + 1), generator=generator)
        started = time.perf_counter()
        _, loss = model(batch[:, :-1], batch[:, 1:])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        if step >= warmup:
            times.append(time.perf_counter() - started)
    return statistics.median(times)


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10, help="timed training steps per model (default 10)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    peak = matmul_flops_per_second()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {platform.processor() or platform.machine()}")
    print(f"fp32 matmul 1024x1024x1024: {peak / 1e9:.1f} GFLOP/s (median of 20)")
    print(f"batch {BATCH} x context {CONTEXT} = {BATCH * CONTEXT} tokens per step, {args.steps} timed steps")
    for size in SIZES:
        values = {**size, "vocab_size": VOCAB, "context_length": CONTEXT}
        arch = arch_from_values(values)
        flops = training_flops_per_step(arch)
        print(f"\n### d_model {size['d_model']}, {size['n_layer']} layers, {size['n_head']} heads")
        print(f"training FLOPs per step (3x forward): {flops / 1e9:.2f} GFLOP")
        print("| model | step ms | tokens/s | GFLOP/s | MFU | vs reference | vs shinka fp16 |")
        print("|---|---|---|---|---|---|---|")
        reference = step_seconds(ReferenceModel(size["d_model"], size["n_layer"], size["n_head"]), args.steps)
        print(_row("reference nn.Linear loop", reference, flops, peak, reference, reference))
        base = math.nan
        for label, genes in VARIANTS.items():
            variant = arch_from_values({**values, **genes})
            build: Callable[[], nn.Module] = lambda variant=variant: Transformer(variant)
            seconds = step_seconds(build(), args.steps)
            if math.isnan(base):
                base = seconds
            # Low rank lowers the real FLOPs; MFU uses the variant's own count.
            print(_row(label, seconds, training_flops_per_step(variant), peak, reference, base))


if __name__ == "__main__":
    main()
