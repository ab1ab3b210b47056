"""HardwareProfile: a device's public spec numbers, loaded and validated from YAML."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from shinka.errors import UserError
from shinka.yamlio import LineDict, read_yaml_mapping

logger = logging.getLogger(__name__)

# Numeric formats a profile may give a peak for. "ternary" is native 1.58-bit arithmetic.
FORMATS = ("fp32", "fp16", "bf16", "int8", "int4", "ternary")
FormatName = Literal["fp32", "fp16", "bf16", "int8", "int4", "ternary"]
RuntimeFormat = Literal["fp32", "fp16", "bf16"]
# Bytes per element of a format a runtime stores dequantized weights, activations and KV cache in.
RUNTIME_FORMAT_BYTES = {"fp32": 4, "fp16": 2, "bf16": 2}
PROFILES_DIR = Path(__file__).resolve().parents[2] / "hardware_profiles"

# Default dynamic energy of DRAM traffic: 1.3 nJ per 64-bit access / 8 bytes = 162.5 pJ per byte,
# rounded to 160. The 1.3 nJ is the low end of the 1.3 to 2.6 nJ per 64-bit DRAM access in
# Horowitz, "Computing's energy problem (and what we can do about it)", ISSCC 2014 (45 nm),
# the source intel-xeon-8480.yaml cites. Memory vendors quote pJ per bit: multiply by 8.
DEFAULT_DRAM_PJ_PER_BYTE = 160.0

PositiveNumber = Annotated[float, Field(gt=0, allow_inf_nan=False)]


class Efficiency(BaseModel):
    """Shares of peak a real workload reaches; calibration fits them."""

    model_config = ConfigDict(extra="forbid")

    compute: float = Field(0.5, gt=0, le=1, allow_inf_nan=False, description="share of peak FLOP/s reached by matrix products")
    memory: float = Field(0.7, gt=0, le=1, allow_inf_nan=False, description="share of peak bandwidth reached by streaming reads")


class HardwareProfile(BaseModel):
    """A target device. Units are in the field names: FLOP/s, GB/s (1e9 bytes), GB, W, pJ, microseconds."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]*$")
    kind: Literal["cpu", "gpu", "soc", "npu"]
    description: str = ""
    peak_flops: dict[FormatName, PositiveNumber] = Field(
        min_length=1, description="peak dense FLOP/s (or OP/s for integers) per format"
    )
    memory_bandwidth_gbs: float = Field(gt=0, allow_inf_nan=False, description="peak DRAM bandwidth, GB/s")
    memory_gb: float = Field(gt=0, allow_inf_nan=False, description="memory capacity available to the model, GB")
    power_idle_w: float = Field(ge=0, allow_inf_nan=False, description="static power while the model runs, W")
    power_peak_w: float = Field(gt=0, allow_inf_nan=False, description="board or package power limit, W")
    energy_pj_per_flop: dict[FormatName, PositiveNumber] = Field(
        default_factory=dict, description="dynamic energy per FLOP by format, pJ"
    )
    energy_pj_per_dram_byte: float = Field(
        DEFAULT_DRAM_PJ_PER_BYTE, gt=0, allow_inf_nan=False, description="dynamic energy per byte of DRAM traffic, pJ"
    )
    operator_overhead_us: float = Field(
        5.0, ge=0, allow_inf_nan=False, description="fixed cost per kernel (dispatch or launch), us"
    )
    layer_overhead_us: float = Field(
        0.0, ge=0, allow_inf_nan=False,
        description="fixed cost per transformer block of the small operators the cost model leaves out, us",
    )
    layer_token_overhead_us: float = Field(
        0.0, ge=0, allow_inf_nan=False,
        description="cost per transformer block and token of the elementwise operators the cost model leaves out, us",
    )
    step_overhead_us: float = Field(
        0.0, ge=0, allow_inf_nan=False, description="fixed cost per forward pass (framework entry, embedding), us"
    )
    efficiency: Efficiency = Field(default_factory=Efficiency)
    runtime_format: RuntimeFormat | None = Field(
        None, description="format the runtime stores every weight, activation and KV entry in, dequantized; none: native"
    )
    measure: bool = Field(False, description="true: latency is measured on the machine running the task")
    ray_resource: str | None = Field(None, description="Ray custom resource of nodes that have this device")
    sources: dict[str, str] = Field(default_factory=dict, description="spec field -> URL the number comes from")

    @field_validator("runtime_format")
    @classmethod
    def _check_runtime_format(cls, runtime_format: str | None, info: ValidationInfo) -> str | None:
        peaks = info.data.get("peak_flops") or {}
        if runtime_format is not None and runtime_format not in peaks:
            raise ValueError(f"runtime_format {runtime_format} needs a peak_flops.{runtime_format} entry")
        return runtime_format

    def arithmetic_format(self, weight_format: str) -> tuple[str, bool]:
        """Return the format a weight format computes at here, and whether it is native.

        With `runtime_format` set, everything computes at that format and counts
        as native, because the runtime stores the weights already dequantized.
        Otherwise a format the device has no peak for runs at the nearest wider
        format that it has; the weights then need dequantization, which the
        roofline charges.
        """
        if self.runtime_format is not None:
            return self.runtime_format, True
        fallback = {
            "ternary": ["ternary", "int4", "int8", "fp16", "bf16", "fp32"],
            "int4": ["int4", "int8", "fp16", "bf16", "fp32"],
            "int8": ["int8", "fp16", "bf16", "fp32"],
            "fp16": ["fp16", "bf16", "fp32"],
        }[weight_format]
        for fmt in fallback:
            if fmt in self.peak_flops:
                return fmt, fmt == fallback[0] or (weight_format == "fp16" and fmt == "bf16")
        fmt = next(iter(self.peak_flops))
        return fmt, False

    def energy_per_flop_pj(self, fmt: str) -> float:
        """Return pJ per FLOP at `fmt`; without a figure, peak power over peak FLOP/s."""
        if fmt in self.energy_pj_per_flop:
            return self.energy_pj_per_flop[fmt]
        return self.power_peak_w / self.peak_flops.get(fmt, max(self.peak_flops.values())) * 1e12


def source_keys() -> set[str]:
    """Return the field paths a `sources` mapping may name, such as `peak_flops.fp16`."""
    keys = {name for name in HardwareProfile.model_fields if name not in ("sources", "peak_flops", "efficiency")}
    keys.discard("energy_pj_per_flop")
    keys |= {f"peak_flops.{fmt}" for fmt in FORMATS}
    keys |= {f"energy_pj_per_flop.{fmt}" for fmt in FORMATS}
    keys |= {f"efficiency.{name}" for name in Efficiency.model_fields}
    return keys


def profile_from_mapping(data: dict, *, source: str | Path | None = None) -> HardwareProfile:
    """Validate a profile mapping; the first error raises a UserError naming the file, line and field."""
    try:
        profile = HardwareProfile.model_validate(dict(data))
    except ValidationError as error:
        raise _user_error(error.errors()[0], data, source) from None
    allowed = source_keys()
    for key in profile.sources:
        if key not in allowed:
            raise UserError(
                "sources key names no profile field", file=source, line=_line_of(data, ("sources", key)),
                field=f"sources.{key}", value=key, allowed="a field path such as peak_flops.fp16 or efficiency.memory",
            )
    return profile


_MESSAGES = {
    "missing": "missing required field",
    "extra_forbidden": "unknown field",
    "literal_error": "unknown value",
    "greater_than": "must be positive",
    "greater_than_equal": "must not be negative",
    "less_than_equal": "too large",
    "finite_number": "must be a finite number",
    "float_parsing": "not a number",
    "float_type": "not a number",
    "dict_type": "must be a mapping",
    "too_short": "must not be empty",
    "string_pattern_mismatch": "invalid name",
    "bool_parsing": "not true or false",
    "bool_type": "not true or false",
    "string_type": "must be text",
}


def _user_error(first: dict[str, Any], data: dict, source: str | Path | None) -> UserError:
    location = tuple(first["loc"])
    is_key = bool(location) and location[-1] == "[key]"
    if is_key:
        location = location[:-1]
    field = ".".join(str(part) for part in location) or "(profile)"
    kind = first["type"]
    message = _MESSAGES.get(kind, first["msg"])
    if is_key and kind == "literal_error":
        message = "unknown format"
    elif kind == "value_error":
        message = str(first.get("ctx", {}).get("error", first["msg"]))
    value = None if kind == "missing" else first.get("input")
    if isinstance(value, (dict, list)):
        value = None
    return UserError(
        message, file=source, line=_line_of(data, location, missing=kind == "missing"),
        field=field, value=value, allowed=_allowed_text(first, location, is_key),
    )


def _allowed_text(error: dict[str, Any], location: tuple, is_key: bool) -> str | None:
    kind = error["type"]
    context = error.get("ctx", {})
    if kind == "literal_error":
        return ", ".join(FORMATS) if is_key else context.get("expected")
    if kind == "extra_forbidden":
        model = HardwareProfile if len(location) == 1 else Efficiency
        return ", ".join(model.model_fields)
    if kind == "greater_than":
        return f"a number > {context.get('gt')}"
    if kind == "greater_than_equal":
        return f"a number >= {context.get('ge')}"
    if kind == "less_than_equal":
        return f"a number <= {context.get('le')}"
    if kind in ("finite_number", "float_parsing", "float_type"):
        return "a finite number"
    if kind == "missing":
        return "see docs/hardware_profiles.md for the schema"
    if kind == "too_short":
        return f"at least one of {', '.join(FORMATS)}"
    if kind == "string_pattern_mismatch":
        return "lowercase letters, digits, '.', '_' and '-', starting with a letter or digit"
    return None


def _line_of(data: Any, location: tuple, *, missing: bool = False) -> int:
    """Return the 1-based line of the deepest key of `location` found in `data`, else 1.

    A missing field has no line of its own, so it gets the line of its parent mapping.
    """
    line = 1
    node = data
    parts = location[:-1] if missing else location
    for part in parts:
        if not isinstance(node, LineDict) or part not in node:
            break
        line = node.line_of(part) or line
        node = node[part]
    return line


def load_profile(path: str | Path) -> HardwareProfile:
    """Load and validate one profile file; its `name` must equal the file stem."""
    path = Path(path)
    try:
        data = read_yaml_mapping(path, what="hardware profile")
    except UserError as error:
        raise _with_syntax_field(error, path) from None
    profile = profile_from_mapping(data, source=path)
    if profile.name != path.stem:
        raise UserError(
            "profile name must equal the file stem", file=path, line=_line_of(data, ("name",)), field="name",
            value=profile.name, allowed=repr(path.stem),
        )
    return profile


def _with_syntax_field(error: UserError, path: Path) -> UserError:
    """Name the key whose value the YAML parser was reading when it stopped.

    The search starts at the line where the unfinished construct began (an
    unclosed bracket or quote, from PyYAML's context mark), else at the error
    line, and takes the nearest line at or above it that starts with a key.
    Its parents, found by indentation, make the dotted field path, such as
    `peak_flops.fp32`. The error then points at that key's line and reports
    where the parser stopped.
    """
    if error.line is None or error.field is not None or not error.message.startswith("invalid YAML"):
        return error
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return error
    lines = text.splitlines()
    start = error.line
    try:
        yaml.safe_load(text)
    except yaml.YAMLError as parse_error:
        context = getattr(parse_error, "context_mark", None)
        if context is not None and context.line + 1 < start:
            start = context.line + 1
    key_line = re.compile(r"^(\s*)([A-Za-z0-9_.-]+)\s*:")
    index = min(start, len(lines)) - 1
    while index >= 0 and key_line.match(lines[index]) is None:
        index -= 1
    if index < 0:
        return error
    match = key_line.match(lines[index])
    keys, indent = [match.group(2)], len(match.group(1))
    for above in reversed(lines[:index]):
        parent = key_line.match(above)
        if parent is not None and len(parent.group(1)) < indent:
            keys.insert(0, parent.group(2))
            indent = len(parent.group(1))
    message = error.message if index + 1 == error.line else f"{error.message} (the parser stopped at line {error.line})"
    return UserError(message, file=path, line=index + 1, field=".".join(keys), allowed=error.allowed)


def profile_path(name: str, directory: Path | None = None) -> Path:
    return (directory or PROFILES_DIR) / f"{name}.yaml"


def available_profiles(directory: Path | None = None) -> list[str]:
    return sorted(path.stem for path in (directory or PROFILES_DIR).glob("*.yaml"))


def load_named_profile(name: str, directory: Path | None = None) -> HardwareProfile:
    """Load hardware_profiles/NAME.yaml; an unknown name raises a UserError listing the known ones."""
    path = profile_path(name, directory)
    if not path.is_file():
        raise UserError(
            "unknown hardware profile", field="profile", value=name,
            allowed=", ".join(available_profiles(directory)) or "(no profiles found)",
        )
    return load_profile(path)
