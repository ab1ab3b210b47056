"""Weight formats and sparsity patterns, and the exact bytes a stored matrix takes (pure Python).

The model (fake quantization in training), the cost model and the packed
export all read these definitions, so a matrix has one storage size everywhere.

Storage format of one (out, in) weight matrix, as written by shinka.packing:

- codes: the kept weights in row-major order, `WEIGHT_BITS` bits each, packed
  little-endian into bytes; ceil(kept * bits / 8) bytes. fp16 stores half floats.
- scales: fp16, 2 bytes each. Ternary has one absmean scale per matrix. int8
  and int4 have one absmax scale per output channel, or one per group of
  `group_size` input channels when group_size divides `in` and is smaller than
  it. fp16 has none.
- N:M sparsity: ceil(log2(M)) index bits per kept weight (its position inside
  its group of M input channels), packed like the codes. A row whose length is
  not a multiple of M ends in a shorter group that keeps min(N, length) weights.
- unstructured sparsity: a bitmask of one bit per weight of the dense matrix,
  ceil(out * in / 8) bytes; a ratio s prunes int(s * out * in) weights per matrix.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

WEIGHT_FORMATS = ("fp16", "int8", "int4", "ternary")
# Bits per stored weight code, before scales and sparsity indices.
WEIGHT_BITS = {"fp16": 16, "int8": 8, "int4": 4, "ternary": 2}
SCALE_BYTES = 2  # one fp16 scale
VECTOR_BYTES = 2  # biases, norm weights and learned positions are stored at 16 bits

SPARSITY_ALLOWED = (
    "0 (dense), a pruned share in (0, 1) for unstructured sparsity, "
    "or a quoted 'N:M' pattern such as '2:4' (N weights kept in every M, 1 <= N < M <= 256)"
)


@dataclass(frozen=True)
class Sparsity:
    """A parsed sparsity gene value: dense, unstructured with a pruned share, or N:M."""

    kind: str  # "dense", "unstructured" or "n:m"
    ratio: float = 0.0  # share of weights pruned (unstructured)
    n: int = 0  # weights kept per group (N:M)
    m: int = 0  # group length along the input channels (N:M)

    @property
    def dense(self) -> bool:
        return self.kind == "dense"

    def pruned(self, out_features: int, in_features: int) -> int:
        """Return how many weights of an (out, in) matrix the mask sets to zero."""
        return out_features * in_features - self.kept(out_features, in_features)

    def kept(self, out_features: int, in_features: int) -> int:
        """Return how many weights of an (out, in) matrix the mask keeps."""
        numel = out_features * in_features
        if self.kind == "unstructured":
            return numel - int(self.ratio * numel)
        if self.kind == "n:m":
            return out_features * self.kept_per_row(in_features)
        return numel

    def kept_per_row(self, in_features: int) -> int:
        """Return the weights an N:M mask keeps in one row of `in_features` weights."""
        full, rest = divmod(in_features, self.m)
        return full * self.n + min(self.n, rest)

    def index_bits(self) -> int:
        """Return the bits that locate one kept weight inside its group (N:M only)."""
        return max(1, math.ceil(math.log2(self.m))) if self.kind == "n:m" else 0


DENSE = Sparsity("dense")


def parse_sparsity(value: Any) -> Sparsity:
    """Parse a sparsity gene value; raise ValueError with the allowed forms when it is invalid.

    None and 0 are dense. A number in (0, 1) is the pruned share of unstructured
    magnitude pruning. A string "N:M" keeps the N largest of every M weights
    along the input channels. YAML reads an unquoted 2:4 as the base-60 integer
    124, which is rejected here with the hint to quote it.
    """
    if value is None:
        return DENSE
    if isinstance(value, bool):
        raise ValueError(f"invalid sparsity {value!r}; allowed: {SPARSITY_ALLOWED}")
    if isinstance(value, (int, float)):
        if value == 0:
            return DENSE
        if 0 < value < 1:
            return Sparsity("unstructured", ratio=float(value))
        raise ValueError(f"invalid sparsity {value!r}; allowed: {SPARSITY_ALLOWED}")
    if isinstance(value, str):
        parts = value.strip().split(":")
        if len(parts) == 2 and all(part.strip().isdigit() for part in parts):
            n, m = int(parts[0]), int(parts[1])
            if 1 <= n < m <= 256:
                return Sparsity("n:m", n=n, m=m)
    raise ValueError(f"invalid sparsity {value!r}; allowed: {SPARSITY_ALLOWED}")


def is_valid_sparsity(value: Any) -> bool:
    try:
        parse_sparsity(value)
    except ValueError:
        return False
    return True


def quant_group(in_features: int, group_size: int) -> int:
    """Return the input channels per scale of an int format: group_size, or 0 for one scale per row.

    A group size that does not divide `in_features`, or is not smaller than it,
    falls back to one scale per output channel.
    """
    if group_size and in_features % group_size == 0 and group_size < in_features:
        return group_size
    return 0


def scale_count(out_features: int, in_features: int, weight_format: str, group_size: int) -> int:
    """Return the number of fp16 scales stored for one (out, in) matrix."""
    if weight_format == "fp16":
        return 0
    if weight_format == "ternary":
        return 1
    group = quant_group(in_features, group_size)
    return out_features * (in_features // group if group else 1)


@dataclass(frozen=True)
class MatrixStorage:
    """Bytes of one stored weight matrix, by part."""

    codes: int
    scales: int
    index: int  # N:M indices or the unstructured bitmask

    @property
    def total(self) -> int:
        return self.codes + self.scales + self.index


def matrix_storage(
    out_features: int, in_features: int, weight_format: str, group_size: int, sparsity: Sparsity = DENSE
) -> MatrixStorage:
    """Return the exact stored bytes of one (out, in) matrix (see the module docstring for the format)."""
    kept = sparsity.kept(out_features, in_features)
    codes = math.ceil(kept * WEIGHT_BITS[weight_format] / 8)
    scales = scale_count(out_features, in_features, weight_format, group_size) * SCALE_BYTES
    if sparsity.kind == "n:m":
        index = math.ceil(kept * sparsity.index_bits() / 8)
    elif sparsity.kind == "unstructured":
        index = math.ceil(out_features * in_features / 8)
    else:
        index = 0
    return MatrixStorage(codes=codes, scales=scales, index=index)
