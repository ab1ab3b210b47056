"""Proxy corpus and training on real text."""

from __future__ import annotations

import numpy as np
import pytest

from shinka.errors import UserError
from shinka.model.arch import arch_from_values
from shinka.proxy.corpus import load_corpus, stdlib_files
from shinka.proxy.train import TrainSettings, train_proxy


def test_stdlib_corpus_found():
    assert len(stdlib_files()) > 100


def test_stdlib_split_deterministic():
    first = load_corpus("stdlib", max_bytes=300_000)
    second = load_corpus("stdlib", max_bytes=300_000)
    assert np.array_equal(first.train, second.train)
    assert np.array_equal(first.validation, second.validation)


def test_stdlib_split_both_sides():
    corpus = load_corpus("stdlib", max_bytes=300_000)
    assert len(corpus.train) > 0
    assert len(corpus.validation) > 0
    assert len(corpus.train) + len(corpus.validation) >= 300_000


def test_user_glob_corpus(tmp_path):
    for i in range(30):
        (tmp_path / f"doc{i}.txt").write_text(f"document {i}: " + "lorem ipsum " * 50)
    corpus = load_corpus(["*.txt"], base_dir=tmp_path)
    assert corpus.files == 30
    assert bytes(corpus.train[:9]).startswith(b"document")


def test_missing_corpus_path(tmp_path):
    with pytest.raises(UserError, match="matches no file"):
        load_corpus([str(tmp_path / "none.txt")])


def test_training_reproducible_and_learns():
    corpus = load_corpus("stdlib", max_bytes=300_000)
    arch = arch_from_values({"n_layer": 1, "d_model": 32, "n_head": 2, "context_length": 32})
    settings = TrainSettings(train_tokens=8192, batch_size=8, sequence_length=32, validation_tokens=1024, seed=3)
    first = train_proxy(arch, corpus.train, corpus.validation, settings)
    second = train_proxy(arch, corpus.train, corpus.validation, settings)
    assert first["val_loss"] == second["val_loss"]
    # A uniform guess over 256 byte values costs 8 bits per byte.
    assert first["val_bpb"] < 8.0
