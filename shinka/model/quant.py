"""Fake quantization with a straight-through estimator, and compressed linear layers.

Training runs in fp32; the forward pass uses weights rounded to the genome's
format, while gradients flow to the full-precision weights as if the rounding
were the identity (straight-through estimator).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

_EPS = 1e-8
# Largest magnitude of a symmetric signed integer code: [-qmax, qmax].
_QMAX = {"int8": 127, "int4": 7}


def quantize_ternary(weight: torch.Tensor) -> torch.Tensor:
    """Round to {-1, 0, +1} times one scale, the absmean rule of BitNet b1.58.

    The scale is mean(|W|) over the whole tensor; W / scale is rounded and
    clipped to [-1, 1] (Ma et al. 2024, "The Era of 1-bit LLMs").
    """
    scale = weight.abs().mean().clamp(min=_EPS)
    return (weight / scale).round().clamp(-1, 1) * scale


def quantize_symmetric(weight: torch.Tensor, bits_format: str, group_size: int) -> torch.Tensor:
    """Round to a symmetric signed integer grid with one absmax scale per output channel or group.

    weight: (out, in). With group_size > 0 and dividing `in`, each run of
    group_size input channels of a row has its own scale; otherwise each row
    (output channel) has one.
    """
    qmax = _QMAX[bits_format]
    out_features, in_features = weight.shape
    if group_size and in_features % group_size == 0 and group_size < in_features:
        grouped = weight.reshape(out_features, in_features // group_size, group_size)  # (out, groups, g)
        scale = grouped.abs().amax(dim=-1, keepdim=True).clamp(min=_EPS) / qmax
        return ((grouped / scale).round().clamp(-qmax, qmax) * scale).reshape(out_features, in_features)
    scale = weight.abs().amax(dim=1, keepdim=True).clamp(min=_EPS) / qmax  # (out, 1)
    return (weight / scale).round().clamp(-qmax, qmax) * scale


def quantize(weight: torch.Tensor, weight_format: str, group_size: int = 0) -> torch.Tensor:
    """Return `weight` rounded to `weight_format` (fp16 rounds to half precision)."""
    if weight_format == "ternary":
        return quantize_ternary(weight)
    if weight_format in _QMAX:
        return quantize_symmetric(weight, weight_format, group_size)
    if weight_format == "fp16":
        return weight.to(torch.float16).to(weight.dtype)
    raise ValueError(f"unknown weight format {weight_format!r}")


def fake_quantize(weight: torch.Tensor, weight_format: str, group_size: int = 0) -> torch.Tensor:
    """Quantize in the forward pass, pass gradients straight through in the backward pass."""
    if weight_format == "fp16":
        # fp16 rounding changes the loss by far less than training noise; skip it to keep steps fast.
        return weight
    return weight + (quantize(weight, weight_format, group_size) - weight).detach()


class QuantLinear(nn.Linear):
    """nn.Linear whose weight is fake-quantized to `weight_format` in every forward pass."""

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        weight_format: str = "fp16",
        group_size: int = 0,
    ) -> None:
        super().__init__(in_features, out_features, bias=bias)
        self.weight_format = weight_format
        self.group_size = group_size
        self.frozen = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight = self.weight if self.frozen else fake_quantize(self.weight, self.weight_format, self.group_size)
        return F.linear(x, weight, self.bias)

    @torch.no_grad()
    def freeze(self) -> None:
        """Store the quantized weight in place so inference pays no rounding cost."""
        if not self.frozen:
            self.weight.copy_(quantize(self.weight, self.weight_format, self.group_size))
            self.frozen = True

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, weight_format={self.weight_format}"


class LowRankLinear(nn.Module):
    """A projection factorized as up(down(x)): (out x r)(r x in) weights, both fake-quantized."""

    def __init__(
        self,
        in_features: int,
        out_features: int,
        rank: int,
        bias: bool = True,
        weight_format: str = "fp16",
        group_size: int = 0,
    ) -> None:
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.rank = rank
        self.down = QuantLinear(in_features, rank, bias=False, weight_format=weight_format, group_size=group_size)
        self.up = QuantLinear(rank, out_features, bias=bias, weight_format=weight_format, group_size=group_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.up(self.down(x))  # (..., in) -> (..., r) -> (..., out)

    def freeze(self) -> None:
        self.down.freeze()
        self.up.freeze()


def make_linear(
    in_features: int,
    out_features: int,
    *,
    bias: bool,
    weight_format: str,
    group_size: int,
    rank: int | None,
) -> nn.Module:
    """Build a dense QuantLinear, or a LowRankLinear when `rank` is given."""
    if rank is None:
        return QuantLinear(in_features, out_features, bias=bias, weight_format=weight_format, group_size=group_size)
    return LowRankLinear(
        in_features, out_features, rank, bias=bias, weight_format=weight_format, group_size=group_size
    )
