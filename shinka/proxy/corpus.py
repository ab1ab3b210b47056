"""Byte-level text corpora with a deterministic train/validation split."""

from __future__ import annotations

import glob
import hashlib
import sysconfig
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from shinka.errors import UserError

STDLIB = "stdlib"


@dataclass
class Corpus:
    """Training and validation bytes (uint8 arrays) and where they came from."""

    train: np.ndarray
    validation: np.ndarray
    files: int
    description: str


def stdlib_files() -> list[Path]:
    """List the running interpreter's standard-library .py files in sorted order (site-packages excluded)."""
    root = Path(sysconfig.get_paths()["stdlib"])
    return sorted(
        path for path in root.rglob("*.py") if "site-packages" not in path.parts and path.is_file()
    )


def resolve_corpus_files(spec: str | list[str], *, base_dir: Path | None = None, field: str = "proxy.corpus") -> list[Path]:
    """Resolve `stdlib`, a path, a glob, or a list of them, to a sorted list of files."""
    entries = [spec] if isinstance(spec, str) else list(spec)
    if not entries:
        raise UserError("corpus list is empty", field=field, value=spec, allowed="'stdlib', file paths or globs")
    files: set[Path] = set()
    for entry in entries:
        if not isinstance(entry, str) or not entry:
            raise UserError("invalid corpus entry", field=field, value=entry, allowed="'stdlib', a file path or a glob")
        if entry == STDLIB:
            files.update(stdlib_files())
            continue
        pattern = Path(entry).expanduser()
        if not pattern.is_absolute() and base_dir is not None:
            pattern = base_dir / pattern
        matches = [Path(m) for m in glob.glob(str(pattern), recursive=True)]
        matches = [m for m in matches if m.is_file()]
        if not matches:
            raise UserError("corpus path matches no file", field=field, value=entry, allowed="an existing file or a glob that matches files")
        files.update(matches)
    return sorted(files)


def _is_validation(path: Path, validation_share: float) -> bool:
    # Files, not bytes, are split, so no file contributes to both sides. The hash of
    # the file name (not its path) keeps the split the same on every machine.
    digest = hashlib.sha1(path.name.encode() + str(path.parent.name).encode()).digest()
    return int.from_bytes(digest[:4], "big") / 2**32 < validation_share


def load_corpus(
    spec: str | list[str],
    *,
    max_bytes: int = 8_000_000,
    validation_share: float = 0.1,
    base_dir: Path | None = None,
) -> Corpus:
    """Read the corpus as bytes and split it by file into train and validation sets.

    Files are read in sorted order until `max_bytes` in total; a file with a NUL
    byte in its first 8,000 bytes counts as binary (git's rule) and is skipped.
    Raises UserError when nothing usable is left or a side of the split is empty.
    """
    files = resolve_corpus_files(spec, base_dir=base_dir)
    train_parts: list[bytes] = []
    validation_parts: list[bytes] = []
    total = 0
    used = 0
    skipped_binary = []
    for path in files:
        if total >= max_bytes:
            break
        data = path.read_bytes()
        if not data:
            continue
        if b"\0" in data[:8000]:
            skipped_binary.append(path)
            continue
        data = data[: max_bytes - total]
        (validation_parts if _is_validation(path, validation_share) else train_parts).append(data)
        total += len(data)
        used += 1
    if total == 0:
        reason = "corpus files are binary" if skipped_binary else "corpus files are empty"
        raise UserError(reason, field="proxy.corpus", value=str(skipped_binary[0] if skipped_binary else spec), allowed="non-empty text files")
    if not validation_parts or not train_parts:
        # Too few files for a file-level split: split the bytes 90/10 instead.
        joined = b"\n".join(train_parts + validation_parts)
        cut = int(len(joined) * (1 - validation_share))
        train_parts, validation_parts = [joined[:cut]], [joined[cut:]]
    train = np.frombuffer(b"\n".join(train_parts), dtype=np.uint8).copy()
    validation = np.frombuffer(b"\n".join(validation_parts), dtype=np.uint8).copy()
    description = "Python standard library source" if spec == STDLIB else f"{used} user file(s)"
    return Corpus(train=train, validation=validation, files=used, description=description)
