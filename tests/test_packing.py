"""Packed export: file tensor bytes equal the cost model's weight bytes, unpacking is exact."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from safetensors import safe_open

from shinka.cost.storage import weight_bytes
from shinka.model.arch import arch_from_values
from shinka.model.quant import QuantLinear, compress_weight
from shinka.model.transformer import Transformer
from shinka.packing import load_packed, pack_bits, save_packed, unpack_bits, unpack_file

BASE = {"vocab_size": 256, "context_length": 64, "n_layer": 2, "d_model": 96, "n_head": 4}
CASES = {
    "fp16": {},
    "int8": {"weight_format": "int8", "weight_format_embedding": "int8"},
    "int4 group 32": {"weight_format": "int4", "group_size": 32, "weight_format_embedding": "int4"},
    "ternary": {"weight_format": "ternary"},
    "2:4": {"sparsity": "2:4"},
    "unstructured": {"weight_format": "int8", "sparsity": 0.37},
    "ternary + 2:4": {"weight_format": "ternary", "sparsity": "2:4", "sparsity_embedding": "2:4"},
    "low rank + 3:8": {"weight_format": "int4", "rank_mlp": 20, "sparsity_mlp": "3:8"},
    "llama style": {
        "mlp": "swiglu", "norm": "rmsnorm", "positions": "rope", "bias": False, "tie_embeddings": False,
        "weight_format_attention": ["ternary", "int4"], "weight_format_mlp": ["int8", "fp16"],
        "weight_format_embedding": "int4", "sparsity_embedding": 0.5, "ffn_dim": 100,
    },
}


def trained_model(values: dict) -> Transformer:
    """Return a model after two optimizer steps, so its weights are not the initialization."""
    torch.manual_seed(0)
    model = Transformer(arch_from_values(values))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    for _ in range(2):
        batch = torch.randint(0, 256, (4, 33))
        _, loss = model(batch[:, :-1], batch[:, 1:])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model.eval()


def tensor_bytes(path) -> int:
    with safe_open(str(path), framework="pt") as handle:
        return sum(handle.get_tensor(name).numel() * handle.get_tensor(name).element_size() for name in handle.keys())


@pytest.mark.parametrize("case", sorted(CASES))
def test_packed_bytes_equal_cost_model(tmp_path, case):
    model = trained_model({**BASE, **CASES[case]})
    path = tmp_path / "model.safetensors"
    written = save_packed(model, path)
    expected = weight_bytes(model.arch)
    assert written == expected
    assert tensor_bytes(path) == expected
    assert path.stat().st_size < 1.25 * expected  # header and layout metadata on top of the tensors


@pytest.mark.parametrize("case", sorted(CASES))
def test_unpacked_weights_equal_quantized(tmp_path, case):
    model = trained_model({**BASE, **CASES[case]})
    path = tmp_path / "model.safetensors"
    save_packed(model, path)
    state, arch = unpack_file(path)
    assert arch == model.arch
    for name, module in model.named_modules():
        if isinstance(module, QuantLinear):
            quantized = compress_weight(module.weight, module.weight_format, module.group_size, module.sparsity)
            assert torch.equal(state[f"{name}.weight"], quantized), name
    compression = model.embedding_compression
    embedding = compress_weight(
        model.token_embedding.weight, compression.weight_format, compression.group_size, compression.sparsity
    )
    assert torch.equal(state["token_embedding.weight"], embedding)


def test_frozen_model_packs_the_same(tmp_path):
    model = trained_model({**BASE, **CASES["ternary + 2:4"]})
    save_packed(model, tmp_path / "latent.safetensors")
    model.freeze()
    save_packed(model, tmp_path / "frozen.safetensors")
    latent, _ = unpack_file(tmp_path / "latent.safetensors")
    frozen, _ = unpack_file(tmp_path / "frozen.safetensors")
    for name, tensor in latent.items():
        assert torch.equal(tensor, frozen[name]), name


def test_load_packed_logits_close(tmp_path):
    model = trained_model({**BASE, **CASES["int4 group 32"]})
    save_packed(model, tmp_path / "model.safetensors")
    loaded = load_packed(tmp_path / "model.safetensors")
    idx = torch.randint(0, 256, (2, 24))
    # Biases and norm weights are stored at 16 bits, so logits differ by fp16 rounding only.
    assert torch.allclose(model(idx)[0], loaded(idx)[0], atol=1e-2)


@pytest.mark.parametrize("bits", [1, 2, 3, 4, 8])
def test_bit_packing_round_trip(bits):
    values = np.random.default_rng(bits).integers(0, 2**bits, size=101)
    packed = pack_bits(values, bits)
    assert packed.nbytes == -(-101 * bits // 8)
    assert np.array_equal(unpack_bits(packed, bits, 101), values)
