"""Packed weight export: a model's weights at their deployed bit widths in one safetensors file.

Each compressed matrix PREFIX (a projection's `...weight`, or the token
embedding) becomes these tensors:

- PREFIX.codes: kept weights in row-major order. ternary: 2 bits per weight
  (code + 1, values 0..2), int4: 4 bits (code + 8, values 1..15), both packed
  little-endian into uint8; int8: int8; fp16: float16.
- PREFIX.scales: float16; (1, 1) for ternary, (out, 1) per output channel or
  (out, in / group) per group for int8/int4; absent for fp16.
- PREFIX.indices (N:M): each kept weight's position in its group of M,
  ceil(log2 M) bits, packed like the codes.
- PREFIX.bitmask (unstructured): one bit per weight of the dense matrix, row-major.

Biases, norm weights and learned positions are float16 under their parameter
names. The sum of all tensor bytes equals shinka.cost.storage.weight_bytes of
the model's architecture. The metadata key "shinka" contains JSON with the
architecture and each matrix's shape and format, so `unpack_file` needs no
other input and returns weights bitwise equal to the quantized ones.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from shinka.model.arch import ArchConfig
from shinka.model.formats import WEIGHT_BITS, Sparsity
from shinka.model.quant import QMAX, QuantLinear, QuantParts, dequantize, quantize_parts
from shinka.model.transformer import Transformer

logger = logging.getLogger(__name__)

PACKED_FORMAT = "shinka-packed-1"
# Offset added to a signed code so it packs as an unsigned bit field.
_CODE_OFFSET = {"ternary": 1, "int4": 8}


def pack_bits(values: np.ndarray, bits: int) -> np.ndarray:
    """Pack unsigned integers below 2**bits into uint8, `bits` bits each, little-endian."""
    values = np.asarray(values, dtype=np.uint8).reshape(-1)
    expanded = (values[:, None] >> np.arange(bits, dtype=np.uint8)) & 1  # (count, bits)
    return np.packbits(expanded.reshape(-1), bitorder="little")


def unpack_bits(packed: np.ndarray, bits: int, count: int) -> np.ndarray:
    """Return `count` unsigned integers of `bits` bits each from bytes written by pack_bits."""
    flat = np.unpackbits(np.asarray(packed, dtype=np.uint8), bitorder="little")[: count * bits]
    weights = (1 << np.arange(bits)).astype(np.int64)
    return flat.reshape(count, bits).astype(np.int64) @ weights


def _sparsity_json(sparsity: Sparsity) -> dict[str, Any]:
    return {"kind": sparsity.kind, "ratio": sparsity.ratio, "n": sparsity.n, "m": sparsity.m}


def _pack_matrix(prefix: str, parts: QuantParts, weight_format: str, sparsity: Sparsity) -> tuple[dict, dict]:
    """Return the tensors and the layout entry of one quantized matrix."""
    out_features, in_features = parts.codes.shape
    mask = parts.mask
    kept = parts.codes.reshape(-1) if mask is None else parts.codes[mask]  # row-major kept weights
    tensors: dict[str, torch.Tensor] = {}
    if weight_format == "fp16":
        tensors[f"{prefix}.codes"] = kept.to(torch.float16).contiguous()
    elif weight_format == "int8":
        tensors[f"{prefix}.codes"] = kept.to(torch.int8).contiguous()
    else:
        unsigned = (kept.to(torch.int64) + _CODE_OFFSET[weight_format]).numpy()
        tensors[f"{prefix}.codes"] = torch.from_numpy(pack_bits(unsigned, WEIGHT_BITS[weight_format]))
    if parts.scales is not None:
        rows = 1 if weight_format == "ternary" else out_features
        tensors[f"{prefix}.scales"] = parts.scales.reshape(rows, -1).to(torch.float16).contiguous()
    if sparsity.kind == "n:m":
        columns = torch.arange(in_features).expand(out_features, in_features)[mask]
        tensors[f"{prefix}.indices"] = torch.from_numpy(pack_bits((columns % sparsity.m).numpy(), sparsity.index_bits()))
    elif sparsity.kind == "unstructured":
        tensors[f"{prefix}.bitmask"] = torch.from_numpy(np.packbits(mask.reshape(-1).numpy(), bitorder="little"))
    layout = {
        "shape": [out_features, in_features],
        "weight_format": weight_format,
        "group": parts.group,
        "kept": int(kept.numel()),
        "sparsity": _sparsity_json(sparsity),
    }
    return tensors, layout


def pack_model(model: Transformer) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Return the packed tensors of `model` and the JSON layout that `unpack_tensors` reads."""
    tensors: dict[str, torch.Tensor] = {}
    matrices: dict[str, dict] = {}
    handled: set[str] = set()
    with torch.no_grad():
        for name, module in model.named_modules():
            if isinstance(module, QuantLinear):
                prefix = f"{name}.weight"
                packed, layout = _pack_matrix(prefix, module.quant_parts(), module.weight_format, module.sparsity)
                tensors.update(packed)
                matrices[prefix] = layout
                handled.add(prefix)
        compression = model.embedding_compression
        parts = quantize_parts(
            model.token_embedding.weight, compression.weight_format, compression.group_size,
            compression.sparsity, frozen=model.embedding_frozen,
        )
        packed, layout = _pack_matrix("token_embedding.weight", parts, compression.weight_format, compression.sparsity)
        tensors.update(packed)
        matrices["token_embedding.weight"] = layout
        handled.add("token_embedding.weight")
        for name, parameter in model.named_parameters():
            if name not in handled:
                tensors[name] = parameter.detach().to(torch.float16).contiguous()
    return tensors, {"format": PACKED_FORMAT, "arch": model.arch.to_dict(), "matrices": matrices}


def _unpack_matrix(prefix: str, layout: dict, tensors: dict[str, torch.Tensor]) -> torch.Tensor:
    out_features, in_features = layout["shape"]
    weight_format, kept = layout["weight_format"], layout["kept"]
    sparsity = Sparsity(**layout["sparsity"])
    raw = tensors[f"{prefix}.codes"]
    if weight_format in ("fp16", "int8"):
        values = raw.to(torch.float32)
    else:
        unsigned = unpack_bits(raw.numpy(), WEIGHT_BITS[weight_format], kept)
        values = torch.from_numpy(unsigned - _CODE_OFFSET[weight_format]).to(torch.float32)

    if sparsity.kind == "n:m":
        slots = sparsity.kept_per_row(in_features)
        offsets = unpack_bits(tensors[f"{prefix}.indices"].numpy(), sparsity.index_bits(), kept)
        groups = -(-in_features // sparsity.m)
        per_group = [min(sparsity.n, in_features - g * sparsity.m) for g in range(groups)]
        group_of_slot = np.repeat(np.arange(groups), per_group)  # (slots,)
        columns = torch.from_numpy(group_of_slot * sparsity.m + offsets.reshape(out_features, slots))
        mask = torch.zeros(out_features, in_features, dtype=torch.bool).scatter_(1, columns, True)
    elif sparsity.kind == "unstructured":
        bits = np.unpackbits(tensors[f"{prefix}.bitmask"].numpy(), bitorder="little")[: out_features * in_features]
        mask = torch.from_numpy(bits.astype(bool)).reshape(out_features, in_features)
    else:
        mask = None

    codes = torch.zeros(out_features, in_features, dtype=torch.float32)
    if mask is None:
        codes = values.reshape(out_features, in_features)
    else:
        codes[mask] = values
    if weight_format == "fp16":
        return codes

    scales = tensors[f"{prefix}.scales"].to(torch.float32)
    if not layout["group"]:
        scales = scales.reshape(out_features, 1) if scales.numel() > 1 else scales.reshape(1, 1)
    return dequantize(QuantParts(codes=codes, scales=scales, mask=mask, group=layout["group"]))


def unpack_tensors(tensors: dict[str, torch.Tensor], layout: dict[str, Any]) -> dict[str, torch.Tensor]:
    """Return float32 weights, by parameter name, from packed tensors and their layout."""
    state: dict[str, torch.Tensor] = {}
    prefixes = set(layout["matrices"])
    suffixes = (".codes", ".scales", ".indices", ".bitmask")
    for prefix, matrix in layout["matrices"].items():
        state[prefix] = _unpack_matrix(prefix, matrix, tensors)
    for name, tensor in tensors.items():
        if not any(name.endswith(suffix) and name[: -len(suffix)] in prefixes for suffix in suffixes):
            state[name] = tensor.to(torch.float32)
    return state


def save_packed(model: Transformer, path: str | Path) -> int:
    """Write `model` packed to a safetensors file at `path` (atomically); return its tensor bytes."""
    from safetensors.torch import save_file

    tensors, layout = pack_model(model)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(handle)
    try:
        save_file(tensors, temporary, metadata={"shinka": json.dumps(layout)})
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    total = sum(t.numel() * t.element_size() for t in tensors.values())
    logger.info("wrote %s: %d tensors, %d tensor bytes", path, len(tensors), total)
    return total


def read_packed(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Return the raw packed tensors and the layout of a file written by save_packed."""
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as handle:
        metadata = handle.metadata() or {}
        tensors = {name: handle.get_tensor(name) for name in handle.keys()}
    if "shinka" not in metadata:
        raise ValueError(f"{path} has no 'shinka' layout metadata; it was not written by save_packed")
    layout = json.loads(metadata["shinka"])
    if layout.get("format") != PACKED_FORMAT:
        raise ValueError(f"{path} has packed format {layout.get('format')!r}; expected {PACKED_FORMAT!r}")
    return tensors, layout


def unpack_file(path: str | Path) -> tuple[dict[str, torch.Tensor], ArchConfig]:
    """Return the unpacked float32 weights of a packed file and its architecture."""
    tensors, layout = read_packed(path)
    return unpack_tensors(tensors, layout), ArchConfig.from_dict(layout["arch"])


def load_packed(path: str | Path) -> Transformer:
    """Build a frozen, eval-mode Transformer from a packed file; its weights are the quantized ones."""
    state, arch = unpack_file(path)
    model = Transformer(arch)
    model.load_state_dict(state)
    for module in model.modules():
        if isinstance(module, QuantLinear):
            module.frozen = True
    model.embedding_frozen = True
    return model.eval()


__all__ = ["QMAX", "load_packed", "pack_model", "read_packed", "save_packed", "unpack_file", "unpack_tensors"]
