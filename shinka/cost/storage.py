"""Exact stored bytes of a model's weights, as shinka.packing writes them (pure Python, no torch).

Each weight matrix takes codes at its format, fp16 scales and sparsity indices
(see shinka.model.formats for the layout). Biases, norm weights and learned
positions take 2 bytes per value. A tied embedding is stored once; an untied
output head is a second matrix in the embedding's format.
"""

from __future__ import annotations

from shinka.model.arch import ArchConfig, LayerConfig, Projection, embedding_projection, layer_projections
from shinka.model.formats import VECTOR_BYTES, MatrixStorage, matrix_storage


def norm_parameters(arch: ArchConfig) -> int:
    """Return the parameters of one norm: a weight, plus a bias for LayerNorm with biases."""
    if arch.norm == "rmsnorm":
        return arch.d_model
    return arch.d_model * (2 if arch.bias else 1)


def projection_storage(projection: Projection) -> list[MatrixStorage]:
    """Return the storage of each weight matrix of a projection (two factors when low rank)."""
    return [
        matrix_storage(o, i, projection.weight_format, projection.group_size, projection.sparsity)
        for o, i in projection.matrices()
    ]


def projection_bytes(projection: Projection) -> int:
    """Return the stored bytes of a projection: its matrices plus a 16-bit bias."""
    matrices = sum(part.total for part in projection_storage(projection))
    return matrices + (projection.out_features * VECTOR_BYTES if projection.bias else 0)


def layer_weight_bytes(arch: ArchConfig, layer: LayerConfig) -> int:
    """Return the stored bytes of one block: its projections and its two norms."""
    projections = sum(projection_bytes(p) for p in layer_projections(arch, layer))
    return projections + 2 * norm_parameters(arch) * VECTOR_BYTES


def embedding_weight_bytes(arch: ArchConfig) -> int:
    """Return the stored bytes of the token embedding, learned positions and an untied output head."""
    embedding = embedding_projection(arch)
    total = projection_bytes(embedding)
    if arch.positions == "learned":
        total += arch.context_length * arch.d_model * VECTOR_BYTES
    if not arch.tie_embeddings:
        total += projection_bytes(embedding)
    return total


def weight_bytes(arch: ArchConfig) -> int:
    """Return the bytes of every stored weight at its layer's format, scales and sparsity indices included."""
    blocks = sum(layer_weight_bytes(arch, layer) for layer in arch.layers)
    return embedding_weight_bytes(arch) + blocks + norm_parameters(arch) * VECTOR_BYTES


def weight_bytes_by_part(arch: ArchConfig) -> dict[str, int]:
    """Return weight bytes split into codes, scales, sparsity indices and 16-bit vectors; they sum to weight_bytes."""
    parts = {"codes": 0, "scales": 0, "index": 0, "vectors": 0}
    projections = [p for layer in arch.layers for p in layer_projections(arch, layer)]
    embedding = embedding_projection(arch)
    projections += [embedding] * (1 if arch.tie_embeddings else 2)
    for projection in projections:
        for storage in projection_storage(projection):
            parts["codes"] += storage.codes
            parts["scales"] += storage.scales
            parts["index"] += storage.index
        if projection.bias:
            parts["vectors"] += projection.out_features * VECTOR_BYTES
    vectors = norm_parameters(arch) * (2 * arch.n_layer + 1)
    if arch.positions == "learned":
        vectors += arch.context_length * arch.d_model
    parts["vectors"] += vectors * VECTOR_BYTES
    return parts
