"""The campaign driver: ask the strategy, evaluate on Ray, record, tell, repeat."""

from __future__ import annotations

import datetime as dt
import logging
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from shinka.campaign.config import CampaignConfig, load_campaign_config
from shinka.campaign.journal import Journal
from shinka.campaign.results import front_table, plot_front
from shinka.campaign.scheduler import Evaluation, RayScheduler
from shinka.campaign.tracking import Tracker, flatten, resolve_tracking_uri
from shinka.cost.counts import summarize
from shinka.errors import UserError
from shinka.hardware.profile import HardwareProfile, load_named_profile
from shinka.hardware.roofline import estimate
from shinka.model.arch import ArchConfig, arch_from_values
from shinka.proxy.corpus import load_corpus
from shinka.proxy.train import TrainSettings
from shinka.search.base import Proposal, make_strategy
from shinka.space.search_space import SearchSpace, load_search_space
from shinka.yamlio import dump_yaml, write_text_atomic

logger = logging.getLogger(__name__)


@dataclass
class CampaignResult:
    campaign_dir: Path
    records: list[dict[str, Any]]
    front: Any  # pandas DataFrame of every successful candidate, front first
    tracking_uri: str
    parent_run_id: str
    objectives: list[str]


def _campaign_dir(config: CampaignConfig) -> Path:
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    base = Path(config.output_dir) / f"{config.name}-{stamp}"
    path, suffix = base, 1
    while path.exists():
        suffix += 1
        path = base.with_name(f"{base.name}-{suffix}")
    return path


def _train_settings(config: CampaignConfig) -> TrainSettings:
    proxy = config.proxy
    return TrainSettings(
        train_tokens=proxy.train_tokens,
        batch_size=proxy.batch_size,
        sequence_length=proxy.sequence_length,
        learning_rate=proxy.learning_rate,
        validation_tokens=proxy.validation_tokens,
        seed=config.seed if proxy.seed is None else proxy.seed,
    )


def candidate_metrics(arch: ArchConfig, profiles: dict[str, HardwareProfile], config: CampaignConfig) -> tuple[dict[str, float], dict[str, str]]:
    """Return cost-model counts and per-profile estimates (keys `metric@profile`) with their sources."""
    counts = summarize(arch, config.hardware.batch_size, config.hardware.context_length)
    metrics: dict[str, float] = {
        key: float(counts[key])
        for key in ("params_total", "params_non_embedding", "weight_bytes", "flops_per_token_prefill",
                    "flops_per_token_decode", "kv_cache_bytes_per_token")
    }
    metrics["weight_mb"] = counts["weight_bytes"] / 1e6
    sources: dict[str, str] = {}
    for name, profile in profiles.items():
        for key, value in estimate(arch, profile, config.hardware.batch_size, config.hardware.context_length).items():
            metrics[f"{key}@{name}"] = float(value)
            sources[f"{key}@{name}"] = "estimated"
    return metrics, sources


class Campaign:
    """One campaign run: owns the folder, the journal, the tracker and the Ray evaluations."""

    def __init__(self, config: CampaignConfig, space: SearchSpace, config_path: Path) -> None:
        self.config = config
        self.space = space
        self.config_path = config_path
        self.profiles = {name: load_named_profile(name) for name in config.hardware.profiles}
        base_dir = config_path.parent
        self.corpus = load_corpus(
            config.proxy.corpus, max_bytes=config.proxy.max_corpus_bytes,
            validation_share=config.proxy.validation_share, base_dir=base_dir,
        )
        self.settings = _train_settings(config)
        self.objectives = list(config.objectives)
        self.records: list[dict[str, Any]] = []

    def run(self) -> CampaignResult:
        import ray

        config = self.config
        uri = resolve_tracking_uri(config.tracking.uri)
        tracker = Tracker(uri, config.tracking.experiment or config.name)

        campaign_dir = _campaign_dir(config)
        campaign_dir.mkdir(parents=True)
        write_text_atomic(campaign_dir / "config.yaml", dump_yaml(config.model_dump(mode="json")))
        write_text_atomic(campaign_dir / "search_space.yaml", Path(self.space.source).read_text(encoding="utf-8"))
        journal = Journal(campaign_dir / "journal.jsonl")
        logger.info("campaign %s: folder %s, tracking %s", config.name, campaign_dir, uri)
        logger.info("config: %s", config.model_dump(mode="json"))

        parent_id = tracker.start_parent(
            config.name,
            flatten(config.model_dump(mode="json")),
            {"campaign_dir": str(campaign_dir.resolve()), "objectives": ",".join(self.objectives)},
        )
        tracker.log_artifact(campaign_dir / "config.yaml")
        tracker.log_artifact(campaign_dir / "search_space.yaml")

        started_ray = False
        if not ray.is_initialized():
            address = config.ray.address or os.environ.get("RAY_ADDRESS")
            if address:
                ray.init(address=address, include_dashboard=False, logging_level=logging.WARNING)
            else:
                ray.init(num_cpus=config.ray.num_cpus, include_dashboard=False, logging_level=logging.WARNING)
            started_ray = True
        status = "FAILED"
        try:
            self._loop(ray, journal, tracker, campaign_dir)
            status = "FINISHED"
        finally:
            table = self._finish(tracker, campaign_dir)
            tracker.finish(status)
            if started_ray:
                ray.shutdown()
        return CampaignResult(campaign_dir, self.records, table, uri, parent_id, self.objectives)

    def _loop(self, ray: Any, journal: Journal, tracker: Tracker, campaign_dir: Path) -> None:
        config = self.config
        measured = [name for name, p in self.profiles.items() if p.measure]
        scheduler = RayScheduler(
            ray, self.corpus.train, self.corpus.validation, self.settings,
            threads=config.ray.threads_per_worker, workers=config.ray.workers, measure=bool(measured),
            measure_options={
                "batch": config.hardware.batch_size, "context": config.hardware.context_length,
                "warmup": config.hardware.warmup, "repeats": config.hardware.repeats,
            },
        )
        strategy = make_strategy(config.strategy, self.space, len(self.objectives), config.seed)
        budget = config.budget.evaluations
        submitted = 0
        started = time.perf_counter()
        while len(self.records) < budget:
            while submitted < budget and scheduler.can_submit():
                proposal = strategy.ask()
                arch = arch_from_values(self.space.values_of(proposal.genome))
                scheduler.submit(Evaluation(key=proposal, arch=arch))
                submitted += 1
            if not scheduler.pending():
                break
            evaluation = scheduler.wait()
            proposal = evaluation.key
            record = self._record(proposal, evaluation.arch, evaluation.trained, evaluation.latency, measured, evaluation.seconds)
            self._save(record, evaluation.trained, campaign_dir)
            journal.append(record)
            self.records.append(record)
            strategy.tell(proposal.genome, self._objective_values(record))
            self._log(tracker, record, len(self.records), budget, started)

    def _record(self, proposal: Proposal, arch: ArchConfig, trained: dict[str, Any], latency: dict[str, float] | None,
                measured: list[str], seconds: float) -> dict[str, Any]:
        metrics, sources = candidate_metrics(arch, self.profiles, self.config)
        record: dict[str, Any] = {
            "candidate_id": proposal.genome.id,
            "genome": proposal.genome.to_dict(),
            "parents": list(proposal.parents),
            "operator": proposal.operator,
            "status": trained["status"],
            "reason": trained.get("reason"),
            "seconds": seconds,
        }
        if trained["status"] == "ok":
            for key in ("val_loss", "val_bpb", "train_loss", "train_seconds", "train_steps", "train_tokens"):
                metrics[key] = float(trained[key])
            for name in measured:
                for key, value in (latency or {}).items():
                    metrics[f"{key}@{name}"] = float(value)
                    if not key.endswith("_iqr"):
                        sources[f"{key}@{name}"] = "measured"
        record["metrics"] = metrics
        record["sources"] = sources
        return record

    def _objective_values(self, record: dict[str, Any]) -> np.ndarray | None:
        if record["status"] != "ok":
            return None
        values = np.array([record["metrics"].get(o, math.nan) for o in self.objectives], dtype=float)
        return values if np.all(np.isfinite(values)) else None

    def _save(self, record: dict[str, Any], trained: dict[str, Any], campaign_dir: Path) -> None:
        if record["status"] != "ok":
            return
        from shinka.export import save_candidate

        save_candidate(
            campaign_dir / "candidates" / record["candidate_id"],
            arch_from_values(self.space.values_of(record["genome"])),
            record["genome"],
            trained["state_dict"],
            record["metrics"],
        )

    def _log(self, tracker: Tracker, record: dict[str, Any], done: int, budget: int, started: float) -> None:
        params = {f"gene.{k}": v for k, v in record["genome"].items()}
        tags = {
            "status": record["status"],
            "operator": record["operator"],
            "parents": ",".join(record["parents"]),
        }
        if record["reason"]:
            tags["failure_reason"] = record["reason"][:5000]
        tracker.log_candidate(record["candidate_id"], params, record["metrics"], tags, step=done)
        failed = sum(1 for r in self.records if r["status"] != "ok")
        tracker.log_parent_metrics({"evaluated": done, "failed": failed}, step=done)
        if record["status"] == "ok":
            summary = " ".join(f"{o}={record['metrics'][o]:.4g}" for o in self.objectives)
        else:
            summary = f"failed: {record['reason']}"
        elapsed = time.perf_counter() - started
        logger.info("[%d/%d %.0fs] %s %s", done, budget, elapsed, record["candidate_id"], summary)

    def _finish(self, tracker: Tracker, campaign_dir: Path) -> Any:
        table = front_table(self.records, self.objectives)
        if table.empty:
            return table
        write_text_atomic(campaign_dir / "front.csv", table.to_csv(index=False))
        plot_front(table, self.objectives, campaign_dir / "front.png", f"{self.config.name}: Pareto front")
        tracker.log_artifact(campaign_dir / "front.csv")
        tracker.log_artifact(campaign_dir / "front.png")
        for row in table.itertuples(index=False):
            tracker.set_candidate_tags(row.candidate_id, {"pareto_rank": row.pareto_rank, "on_front": str(row.on_front).lower()})
        tracker.log_parent_metrics({"front_size": int(table["on_front"].sum())}, step=len(self.records))
        return table


def run_campaign(config_path: str | Path) -> CampaignResult:
    """Load, validate and run the campaign described by `config_path`."""
    config_path = Path(config_path)
    config, space_path = load_campaign_config(config_path)
    space = load_search_space(space_path)
    if space.kind != "transformer":
        raise UserError(
            "a transformer campaign needs a search space of kind 'transformer'",
            file=space_path, field="kind", value=space.kind, allowed="transformer",
        )
    return Campaign(config, space, config_path).run()
