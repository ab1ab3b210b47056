"""YAML reading with user-facing errors and the line number of every mapping key."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import yaml

from shinka.errors import UserError


class LineDict(dict):
    """A dict loaded from YAML that also records the 1-based line of each key."""

    key_lines: dict[Any, int]

    def line_of(self, key: Any) -> int | None:
        return getattr(self, "key_lines", {}).get(key)


class _LineLoader(yaml.SafeLoader):
    pass


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> LineDict:
    loader.flatten_mapping(node)
    result = LineDict()
    result.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in result:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_lines[key] = key_node.start_mark.line + 1
    return result


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def read_yaml_mapping(path: str | Path, *, what: str) -> LineDict:
    """Read a YAML file whose top level must be a mapping.

    `what` names the kind of file in error messages ("search space", "campaign").
    Missing files, binary files, syntax errors and a non-mapping top level raise
    a UserError that names the file and, where YAML reports one, the line.
    """
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{what} file not found", file=path, allowed="an existing YAML file")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise UserError(f"{what} file is not UTF-8 text", file=path) from None
    try:
        data = yaml.load(text, Loader=_LineLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise UserError(f"invalid YAML: {problem}", file=path, line=line) from None
    if not isinstance(data, dict):
        raise UserError(
            f"{what} file must contain a mapping at the top level",
            file=path, value=type(data).__name__, allowed="a YAML mapping (key: value lines)",
        )
    return data


def write_bytes_atomic(path: str | Path, data: bytes) -> None:
    """Write `data` to `path` through a fsynced temporary file and os.replace, so readers never see half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_text_atomic(path: str | Path, text: str) -> None:
    """Write `text` as UTF-8 to `path` atomically (see write_bytes_atomic)."""
    write_bytes_atomic(path, text.encode("utf-8"))


# libyaml's emitter when PyYAML was built with it: the same output, several times faster.
_SafeDumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def dump_yaml(data: Any) -> str:
    return yaml.dump(data, Dumper=_SafeDumper, sort_keys=False, default_flow_style=False)
