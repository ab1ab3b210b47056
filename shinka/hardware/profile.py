"""HardwareProfile: a device's public spec numbers, loaded and validated from YAML."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from shinka.errors import UserError
from shinka.yamlio import LineDict, read_yaml_mapping

# Numeric formats a profile may give a peak for. "ternary" is native 1.58-bit arithmetic.
FORMATS = ("fp32", "fp16", "bf16", "int8", "int4", "ternary")
FormatName = Literal["fp32", "fp16", "bf16", "int8", "int4", "ternary"]
PROFILES_DIR = Path(__file__).resolve().parents[2] / "hardware_profiles"


class Efficiency(BaseModel):
    """Shares of peak a real workload reaches; calibration fits them."""

    model_config = ConfigDict(extra="forbid")

    compute: float = Field(0.5, gt=0, le=1, description="share of peak FLOP/s reached by matrix products")
    memory: float = Field(0.7, gt=0, le=1, description="share of peak bandwidth reached by streaming reads")


class HardwareProfile(BaseModel):
    """A target device. Units are in the field names: FLOP/s, GB/s (1e9 bytes), GB, W, pJ, microseconds."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]*$")
    kind: Literal["cpu", "gpu", "soc", "npu"]
    description: str = ""
    peak_flops: dict[FormatName, float] = Field(description="peak dense FLOP/s (or OP/s for integers) per format")
    memory_bandwidth_gbs: float = Field(gt=0, description="peak DRAM bandwidth, GB/s")
    memory_gb: float = Field(gt=0, description="memory capacity available to the model, GB")
    power_idle_w: float = Field(ge=0, description="static power while the model runs, W")
    power_peak_w: float = Field(gt=0, description="board or package power limit, W")
    energy_pj_per_flop: dict[FormatName, float] = Field(
        default_factory=dict, description="dynamic energy per FLOP by format, pJ"
    )
    energy_pj_per_dram_byte: float = Field(20.0, gt=0, description="dynamic energy per byte of DRAM traffic, pJ")
    operator_overhead_us: float = Field(5.0, ge=0, description="fixed cost per operator (dispatch or launch), us")
    efficiency: Efficiency = Field(default_factory=Efficiency)
    measure: bool = Field(False, description="true: latency is measured on the machine running the task")
    ray_resource: str | None = Field(None, description="Ray custom resource of nodes that have this device")
    sources: dict[str, str] = Field(default_factory=dict, description="spec field -> URL the number comes from")

    @model_validator(mode="after")
    def _check(self) -> "HardwareProfile":
        if not self.peak_flops:
            raise ValueError("peak_flops needs at least one format")
        for fmt, value in self.peak_flops.items():
            if value <= 0:
                raise ValueError(f"peak_flops.{fmt} must be > 0, got {value}")
        for fmt, value in self.energy_pj_per_flop.items():
            if value <= 0:
                raise ValueError(f"energy_pj_per_flop.{fmt} must be > 0, got {value}")
        return self

    def arithmetic_format(self, weight_format: str) -> tuple[str, bool]:
        """Return the format a weight format computes at here, and whether it is native.

        A format the device has no peak for runs at the nearest wider format that
        it has; the weights then need dequantization, which the roofline charges.
        """
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


def profile_from_mapping(data: dict, *, source: str | Path | None = None) -> HardwareProfile:
    """Validate a profile mapping; errors name the file, line and field."""
    try:
        return HardwareProfile.model_validate(dict(data))
    except ValidationError as error:
        first = error.errors()[0]
        location = [str(part) for part in first["loc"]]
        field = ".".join(location) if location else "(profile)"
        line = _line_of(data, first["loc"])
        message = first["msg"]
        if first["type"] == "missing":
            message = "missing required field"
        elif first["type"] == "extra_forbidden":
            message = "unknown field"
        elif first["type"] == "literal_error":
            message = "unknown value"
        value = first.get("input") if first["type"] not in ("missing",) else None
        if isinstance(value, dict):
            value = None
        allowed = _allowed_text(first)
        raise UserError(message, file=source, line=line, field=field, value=value, allowed=allowed) from None


def _allowed_text(error: dict) -> str | None:
    if error["type"] == "literal_error":
        return error.get("ctx", {}).get("expected")
    if error["type"] == "extra_forbidden":
        loc = error["loc"]
        model = HardwareProfile if len(loc) == 1 else Efficiency
        return ", ".join(model.model_fields)
    if error["type"] in ("greater_than", "greater_than_equal"):
        return f"a number {'>' if error['type'] == 'greater_than' else '>='} {error['ctx'].get('gt', error['ctx'].get('ge'))}"
    if error["type"] == "missing":
        return "see docs/hardware_profiles.md for the schema"
    return None


def _line_of(data: dict, loc: tuple) -> int | None:
    line = None
    node = data
    for part in loc:
        if isinstance(node, LineDict) and part in node:
            line = node.line_of(part) or line
            node = node[part]
        else:
            break
    if line is None and isinstance(data, LineDict) and data.key_lines:
        line = None
    return line


def load_profile(path: str | Path) -> HardwareProfile:
    path = Path(path)
    return profile_from_mapping(read_yaml_mapping(path, what="hardware profile"), source=path)


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
