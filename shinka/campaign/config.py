"""Campaign configuration: one pydantic model per concern, validated at load time."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from shinka.errors import UserError
from shinka.search.feasibility import MetricConstraint, parse_metric_constraint
from shinka.search.objectives import split_objective_entries
from shinka.search.settings import OptunaSettings, ShinkaSettings
from shinka.yamlio import LineDict, read_yaml_mapping

# Metrics a candidate reports without a profile.
MODEL_METRICS = (
    "val_bpb", "val_loss", "params_total", "params_non_embedding", "weight_bytes", "weight_mb",
    "flops_per_token_prefill", "flops_per_token_decode", "kv_cache_bytes_per_token",
)
# Model metrics that need training, so a constraint cannot use them before it.
TRAINED_METRICS = ("val_bpb", "val_loss")
# Metrics a candidate reports per hardware profile, written `metric@profile`.
PROFILE_METRICS = (
    "latency_ms_per_token_decode", "latency_ms_prefill", "energy_mj_per_token", "energy_mj_prefill", "memory_mb",
)


class _FieldError(ValueError):
    """A ValueError raised by a whole-model check, naming the field it is about (e.g. 'objectives')."""

    def __init__(self, field: str, message: str, value: Any = None) -> None:
        super().__init__(message)
        self.field = field
        self.value = value


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StrategyConfig(_Section):
    """Search strategy and its settings."""

    name: Literal["shinka", "nsga2", "optuna", "random"] = "nsga2"
    population_size: int = Field(12, ge=2, description="nsga2: individuals kept by NSGA-II survival")
    crossover_probability: float = Field(0.9, ge=0, le=1, description="nsga2: chance an offspring comes from crossover")
    mutation_probability: float | None = Field(None, gt=0, le=1, description="nsga2: per-gene mutation chance; default 1 / genes")
    max_retries: int = Field(100, ge=1, description="nsga2, random: draws to find a valid, not yet evaluated offspring")
    shinka: ShinkaSettings = Field(default_factory=ShinkaSettings, description="settings of strategy shinka")
    optuna: OptunaSettings = Field(default_factory=OptunaSettings, description="settings of strategy optuna")


class BudgetConfig(_Section):
    evaluations: int = Field(24, gt=0, description="candidates evaluated in total")
    evaluation_timeout_s: float | None = Field(
        None, gt=0, description="wall-clock limit of one candidate's training, s; past it the candidate fails"
    )


class ProxyConfig(_Section):
    """Proxy training of each candidate."""

    corpus: str | list[str] = Field("stdlib", description="'stdlib', or text file paths or globs (relative to the campaign file)")
    max_corpus_bytes: int = Field(4_000_000, gt=0, description="bytes of corpus read at most")
    validation_share: float = Field(0.1, gt=0, lt=1, description="share of files held out for validation")
    train_tokens: int = Field(131_072, gt=0, description="training tokens per candidate")
    batch_size: int = Field(16, gt=0, description="sequences per training step")
    sequence_length: int = Field(64, gt=1, description="tokens per training sequence")
    learning_rate: float = Field(3e-3, gt=0, description="peak AdamW learning rate")
    validation_tokens: int = Field(16_384, gt=0, description="validation tokens scored per candidate")
    seed: int | None = Field(None, description="training seed; default: the campaign seed")


class HardwareConfig(_Section):
    """Profiles to estimate or measure on, and the workload shape."""

    profiles: list[str] = Field(
        default_factory=lambda: ["local-cpu"], min_length=1,
        description="profile names from hardware_profiles/, or paths to profile YAML files (relative to the campaign file)",
    )
    batch_size: int = Field(1, gt=0, description="sequences per decode step and prefill")
    context_length: int | None = Field(None, gt=0, description="tokens of context; default: the genome's context_length")
    warmup: int = Field(2, ge=0, description="untimed runs before measuring")
    repeats: int = Field(5, gt=0, description="timed runs; the median is reported")


class RayConfig(_Section):
    address: str | None = Field(None, description="existing cluster address; default: embedded Ray (or RAY_ADDRESS)")
    num_cpus: int | None = Field(None, gt=0, description="CPUs of embedded Ray; default: all")
    workers: int | None = Field(None, gt=0, description="evaluations in flight; default: CPUs / threads_per_worker")
    threads_per_worker: int = Field(1, gt=0, description="torch threads (and Ray CPUs) per training task")
    max_retries: int = Field(2, ge=0, description="retries of a task whose worker or node died (system failures only)")


class TrackingConfig(_Section):
    uri: str | None = Field(None, description="MLflow tracking URI; default: MLFLOW_TRACKING_URI or sqlite:///mlflow.db")
    experiment: str | None = Field(None, description="MLflow experiment; default: the campaign name")
    log_models: int = Field(
        10, ge=0,
        description="at the end, log each front member's model to its MLflow run when the front has at most "
        "this many members (each takes a few seconds); 0: never",
    )


class CampaignConfig(_Section):
    """A whole campaign, as written in experiments/*.yaml."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    seed: int = 0
    search_space: str
    objectives: list[str | dict[str, Any]] = Field(
        min_length=2, max_length=5,
        description="metrics to minimize: NAME, 'max:NAME' or {name: NAME, goal: maximize} to maximize one",
    )
    maximize: list[str] = Field(default_factory=list, description="objectives that are maximized (filled from 'max:' entries too)")
    constraints: list[str] = Field(
        default_factory=list,
        description="hard constraints 'METRIC OP NUMBER' on cost-model metrics, checked before training; "
        "a genome that breaks one is never trained",
    )
    objective_function: str | None = Field(
        None, description="'module:function' that scores a genome's values; set for a campaign on any search space "
        "(no proxy training, no hardware profiles)",
    )
    strategy: StrategyConfig = Field(default_factory=StrategyConfig)
    budget: BudgetConfig = Field(default_factory=BudgetConfig)
    proxy: ProxyConfig = Field(default_factory=ProxyConfig)
    hardware: HardwareConfig = Field(default_factory=HardwareConfig)
    ray: RayConfig = Field(default_factory=RayConfig)
    tracking: TrackingConfig = Field(default_factory=TrackingConfig)
    output_dir: str = Field("runs", description="folder that receives the campaign folder (relative to the working folder)")

    @field_validator("objective_function")
    @classmethod
    def _check_function(cls, spec: str | None) -> str | None:
        if spec is not None:
            module, _, function = spec.partition(":")
            if not module or not function.isidentifier() or not all(part.isidentifier() for part in module.split(".")):
                raise ValueError(f"invalid objective function '{spec}'; allowed: 'package.module:function'")
        return spec

    @model_validator(mode="after")
    def _check_objectives(self) -> "CampaignConfig":
        try:
            names, maximize = split_objective_entries(self.objectives)
        except ValueError as error:
            raise _FieldError("objectives", str(error)) from None
        if len(set(names)) != len(names):
            raise _FieldError("objectives", "objectives must be distinct", names)
        unknown = [name for name in self.maximize if name not in names]
        if unknown:
            raise _FieldError("maximize", f"'{unknown[0]}' is not an objective; allowed: {', '.join(names)}")
        for objective in names:
            if self.objective_function is None:
                _check_metric(objective, "objectives", "objective")
            elif "@" in objective:
                raise _FieldError("objectives", "an objective function campaign has no hardware profiles; "
                                  "objectives name keys of the function's result", objective)
        self.objectives = names
        self.maximize = [name for name in names if name in maximize or name in self.maximize]
        if self.constraints and self.objective_function is not None:
            raise _FieldError("constraints", "constraints need the cost model of a transformer campaign; "
                              "write constraints between genes in the search space instead")
        for text in self.constraints:
            try:
                constraint = parse_metric_constraint(text)
            except ValueError as error:
                raise _FieldError("constraints", str(error)) from None
            _check_metric(constraint.metric, "constraints", "constraint")
            if constraint.metric in TRAINED_METRICS:
                allowed = ", ".join(m for m in MODEL_METRICS if m not in TRAINED_METRICS)
                raise _FieldError("constraints", f"constraint '{constraint.text}' needs training; "
                                  f"allowed: cost-model metrics ({allowed}) or METRIC@PROFILE")
        return self

    def metric_constraints(self) -> list[MetricConstraint]:
        return [parse_metric_constraint(text) for text in self.constraints]

    def objective_profiles(self) -> list[str]:
        metrics = list(self.objectives) + [c.metric for c in self.metric_constraints()]
        return list(dict.fromkeys(m.partition("@")[2] for m in metrics if "@" in m))


def _check_metric(metric: str, field: str, what: str) -> None:
    name, _, profile = metric.partition("@")
    if profile:
        if name not in PROFILE_METRICS:
            raise _FieldError(field, f"unknown profile metric '{name}' in {what} '{metric}'; allowed: {', '.join(PROFILE_METRICS)}")
    elif name not in MODEL_METRICS:
        raise _FieldError(field, 
            f"unknown {what} metric '{metric}'; allowed: {', '.join(MODEL_METRICS)}, "
            f"or METRIC@PROFILE with METRIC one of {', '.join(PROFILE_METRICS)}"
        )


def _line_of(data: Any, loc: tuple) -> int | None:
    line, node = None, data
    for part in loc:
        if isinstance(node, LineDict) and part in node:
            line = node.line_of(part) or line
            node = node[part]
        else:
            break
    return line


def config_from_mapping(data: dict, *, source: str | Path | None = None) -> CampaignConfig:
    """Validate a campaign mapping; the first problem becomes a one-line UserError."""
    try:
        config = CampaignConfig.model_validate(dict(data))
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "(campaign)"
        kind = first["type"]
        value = None if kind == "missing" else first.get("input")
        if isinstance(value, (dict, LineDict)):
            value = None
        message, allowed = first["msg"], None
        if kind == "missing":
            message = "missing required key"
        elif kind == "extra_forbidden":
            message, value = "unknown key", first["loc"][-1]
            allowed = ", ".join(_model_at(first["loc"][:-1]).model_fields)
        elif kind == "literal_error":
            message, allowed = "unknown value", first.get("ctx", {}).get("expected")
        elif kind.startswith(("greater_than", "less_than")):
            bound = next(iter(first.get("ctx", {}).items()), ("", ""))
            symbol = {"gt": ">", "ge": ">=", "lt": "<", "le": "<="}.get(bound[0], bound[0])
            message, allowed = "value out of range", f"{symbol} {bound[1]}"
        elif kind == "value_error":
            message = first["msg"].removeprefix("Value error, ")
            cause = first.get("ctx", {}).get("error")
            if isinstance(cause, _FieldError):
                field, value = cause.field, cause.value
                first = {**first, "loc": (cause.field,)}
        raise UserError(message, file=source, line=_line_of(data, first["loc"]), field=field, value=value, allowed=allowed) from None
    base_dir = Path(source).parent if source is not None else Path.cwd()
    names = [profile_entry_name(entry, base_dir, source) for entry in config.hardware.profiles]
    for profile in config.objective_profiles():
        if profile not in names:
            _check_profile_name(profile, source)
    missing = sorted(set(config.objective_profiles()) - set(names))
    if missing:
        config.hardware.profiles.extend(missing)
    return config


def profile_entry_path(entry: str, base_dir: Path) -> Path | None:
    """Return the file of a `hardware.profiles` entry that is a path (ends in .yaml or .yml), else None."""
    if not entry.endswith((".yaml", ".yml")):
        return None
    path = Path(entry).expanduser()
    return path if path.is_absolute() else (base_dir / path).resolve()


def profile_entry_name(entry: str, base_dir: Path, source: str | Path | None) -> str:
    """Check one `hardware.profiles` entry and return the profile name it stands for."""
    path = profile_entry_path(entry, base_dir)
    if path is None:
        _check_profile_name(entry, source)
        return entry
    if not path.is_file():
        raise UserError(
            "hardware profile file not found", file=source, field="hardware.profiles", value=entry,
            allowed="a profile name or a path relative to the campaign file",
        )
    from shinka.hardware.profile import load_profile

    return load_profile(path).name


def _model_at(loc: tuple) -> type[BaseModel]:
    model: type[BaseModel] = CampaignConfig
    for part in loc:
        annotation = model.model_fields[part].annotation if part in model.model_fields else None
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            model = annotation
    return model


def _check_profile_name(name: str, source: str | Path | None) -> None:
    from shinka.hardware.profile import available_profiles, profile_path

    if not profile_path(name).is_file():
        raise UserError(
            "unknown hardware profile", file=source, field="hardware.profiles", value=name,
            allowed=", ".join(available_profiles()),
        )


def load_campaign_config(path: str | Path) -> tuple[CampaignConfig, Path]:
    """Load a campaign file; return the config and the resolved search space path."""
    path = Path(path)
    data = read_yaml_mapping(path, what="campaign")
    config = config_from_mapping(data, source=path)
    space_path = Path(config.search_space)
    if not space_path.is_absolute():
        space_path = (path.parent / space_path).resolve()
    if not space_path.is_file():
        raise UserError(
            "search space file not found", file=path, line=_line_of(data, ("search_space",)),
            field="search_space", value=config.search_space, allowed="a path relative to the campaign file",
        )
    return config, space_path
