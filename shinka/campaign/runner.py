"""The campaign driver: ask the strategy, evaluate on Ray, record, tell, repeat.

Order of writes for each finished evaluation: weights, journal line (fsynced),
controller checkpoint, MLflow. A crash at any point loses no finished
evaluation: `shinka resume` reads the journal, passes the strategy the
results its checkpoint lacks, evaluates again what was in flight, and logs to
MLflow what is missing there.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from shinka.campaign.checkpoint import (
    JOURNAL_FILE,
    ControllerState,
    load_checkpoint,
    load_metadata,
    save_checkpoint,
    save_metadata,
)
from shinka.campaign.config import CampaignConfig, config_from_mapping, load_campaign_config, profile_entry_path
from shinka.campaign.interrupt import GracefulInterrupt
from shinka.campaign.journal import Journal
from shinka.campaign.preflight import check_ray_address, check_tracking_uri
from shinka.campaign.results import front_table, write_front_outputs
from shinka.campaign.scheduler import Evaluation, FunctionScheduler, RayScheduler
from shinka.campaign.step_log import StepLog
from shinka.campaign.tracking import Tracker, flatten, pareto_tags, resolve_tracking_uri
from shinka.cost.counts import summarize
from shinka.errors import UserError
from shinka.hardware.profile import HardwareProfile, load_named_profile, load_profile
from shinka.hardware.roofline import estimate
from shinka.model.arch import ArchConfig, arch_from_values
from shinka.proxy.corpus import load_corpus
from shinka.proxy.train import TrainSettings
from shinka.search.base import Proposal, make_strategy
from shinka.search.feasibility import violations
from shinka.search.objectives import ObjectiveSet
from shinka.space.search_space import SearchSpace, load_search_space
from shinka.yamlio import dump_yaml, read_yaml_mapping, write_text_atomic

logger = logging.getLogger(__name__)

PREFILTERED_FILE = "prefiltered.jsonl"
# A campaign stops when this many proposals in a row break its constraints.
MAX_CONSECUTIVE_PREFILTERED = 2_000


@dataclass
class CampaignResult:
    campaign_dir: Path
    records: list[dict[str, Any]]
    front: Any  # pandas DataFrame of every successful candidate, front first
    tracking_uri: str
    parent_run_id: str
    objectives: list[str]
    interrupted: bool = False


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
        time_limit_s=config.budget.evaluation_timeout_s,
    )


def load_profiles(config: CampaignConfig, base_dir: Path) -> dict[str, HardwareProfile]:
    """Load every profile the campaign names (by name or by path), keyed by profile name."""
    profiles = {}
    for entry in config.hardware.profiles:
        path = profile_entry_path(entry, base_dir)
        profile = load_profile(path) if path is not None else load_named_profile(entry)
        profiles[profile.name] = profile
    return profiles


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
            if isinstance(value, (int, float)):
                metrics[f"{key}@{name}"] = float(value)
                sources[f"{key}@{name}"] = "estimated"
    return metrics, sources


class Campaign:
    """One campaign run: owns the folder, the journal, the tracker and the Ray evaluations.

    Construct it with `Campaign.prepare` (a new campaign) or `Campaign.reopen`
    (resume); both validate everything the user gave before anything is written.
    """

    def __init__(self, config: CampaignConfig, space: SearchSpace, base_dir: Path, campaign_dir: Path | None = None) -> None:
        self.config = config
        self.space = space
        self.base_dir = base_dir
        self.campaign_dir = campaign_dir
        self.function = None
        if config.objective_function is not None:
            from shinka.campaign.function_eval import resolve_objective_function

            # A function campaign trains nothing and has no profiles: no corpus is read.
            self.function = resolve_objective_function(config.objective_function, base_dir)
            self.profiles: dict[str, HardwareProfile] = {}
            self.corpus = None
        else:
            self.profiles = load_profiles(config, base_dir)
            self.corpus = load_corpus(
                config.proxy.corpus, max_bytes=config.proxy.max_corpus_bytes,
                validation_share=config.proxy.validation_share, base_dir=base_dir,
            )
        self.settings = _train_settings(config)
        self.objectives = list(config.objectives)
        self.goals = ObjectiveSet.from_lists(self.objectives, config.maximize)
        self.constraints = config.metric_constraints()
        self.prefiltered: list[dict[str, Any]] = []  # proposals that broke a constraint, never trained
        self.ray_address = config.ray.address or os.environ.get("RAY_ADDRESS")
        if self.ray_address:
            check_ray_address(self.ray_address, field="ray.address" if config.ray.address else "RAY_ADDRESS")
        self.tracking_uri = resolve_tracking_uri(config.tracking.uri)
        check_tracking_uri(self.tracking_uri)
        self.records: list[dict[str, Any]] = []
        self.state: ControllerState | None = None
        # Driver seconds spent per phase (cost model, journal and checkpoint, strategy, MLflow).
        self.timings = {"metrics": 0.0, "journal": 0.0, "controller": 0.0, "tracking": 0.0}
        self.loop_seconds = 0.0  # wall time of the evaluation loop, without setup and the final outputs
        # Set by tests to replace what runs inside the training task.
        self.train_function: Callable[..., dict[str, Any]] | None = None
        # Called after each evaluation with (done, budget, step metrics); the CLI draws its progress bar from it.
        self.progress: Callable[[int, int, dict[str, float]], None] | None = None
        self.step_metrics: dict[str, float] = {}

    @classmethod
    def prepare(cls, config_path: str | Path, ray_address: str | None = None) -> "Campaign":
        """Validate a campaign file and everything it names; raise UserError on the first mistake."""
        config_path = Path(config_path)
        config, space_path = load_campaign_config(config_path)
        if ray_address:
            config.ray.address = ray_address
        space = load_search_space(space_path)
        if space.kind != "transformer" and config.objective_function is None:
            raise UserError(
                "a campaign without objective_function trains transformers and needs a search space of kind 'transformer'",
                file=space_path, field="kind", value=space.kind, allowed="transformer, or set objective_function",
            )
        try:
            return cls(config, space, config_path.resolve().parent)
        except UserError as error:
            raise error.with_file(config_path) from None

    @classmethod
    def reopen(cls, campaign_dir: str | Path, ray_address: str | None = None) -> "Campaign":
        """Rebuild a campaign from its folder, to resume it."""
        campaign_dir = Path(campaign_dir)
        metadata = load_metadata(campaign_dir)
        config = config_from_mapping(read_yaml_mapping(campaign_dir / "config.yaml", what="campaign"), source=campaign_dir / "config.yaml")
        if ray_address:
            config.ray.address = ray_address
        # The campaign's tracking URI was resolved when it started; keep using that store.
        config.tracking.uri = metadata["tracking_uri"]
        space = load_search_space(campaign_dir / "search_space.yaml")
        campaign = cls(config, space, Path(metadata["base_dir"]), campaign_dir)
        campaign.metadata = metadata
        return campaign

    def run(self) -> CampaignResult:
        import ray

        config = self.config
        resuming = self.campaign_dir is not None
        tracker = Tracker(self.tracking_uri, config.tracking.experiment or config.name)
        if resuming:
            campaign_dir = self.campaign_dir
            journal = Journal(campaign_dir / JOURNAL_FILE)
            self.records = list(journal.records())
            self.prefiltered = list(Journal(campaign_dir / PREFILTERED_FILE).records())
            parent_id = self.metadata["parent_run_id"]
            tracker.resume_parent(parent_id)
            logger.info("resuming campaign %s from %s: %d evaluations in the journal", config.name, campaign_dir, len(self.records))
        else:
            campaign_dir = self.campaign_dir = _campaign_dir(config)
            campaign_dir.mkdir(parents=True)
            write_text_atomic(campaign_dir / "config.yaml", dump_yaml(self._portable_config()))
            write_text_atomic(campaign_dir / "search_space.yaml", Path(self.space.source).read_text(encoding="utf-8"))
            journal = Journal(campaign_dir / JOURNAL_FILE)
            logger.info("campaign %s: folder %s, tracking %s", config.name, campaign_dir, self.tracking_uri)
            logger.info("config: %s", config.model_dump(mode="json"))
            parent_id = tracker.start_parent(
                config.name,
                flatten(config.model_dump(mode="json")),
                {
                    "campaign_dir": str(campaign_dir.resolve()), "objectives": ",".join(self.objectives),
                    "maximize": ",".join(self.config.maximize),
                },
            )
            save_metadata(campaign_dir, {
                "name": config.name, "base_dir": str(self.base_dir), "tracking_uri": tracker.uri,
                "parent_run_id": parent_id, "created": dt.datetime.now().isoformat(timespec="seconds"),
            })
            tracker.log_artifact(campaign_dir / "config.yaml")
            tracker.log_artifact(campaign_dir / "search_space.yaml")
        self.tracker = tracker
        self.step_log = StepLog(tracker, self.objectives, config.maximize)

        started_ray = False
        if not ray.is_initialized():
            if self.ray_address:
                ray.init(address=self.ray_address, logging_level=logging.WARNING)
            else:
                ray.init(num_cpus=config.ray.num_cpus, include_dashboard=False, logging_level=logging.WARNING)
            started_ray = True
        status = "FAILED"
        interrupt = GracefulInterrupt()
        try:
            with interrupt:
                self._restore_state(journal, tracker)
                self._loop(ray, journal, Journal(campaign_dir / PREFILTERED_FILE), tracker, campaign_dir, interrupt)
            status = "KILLED" if interrupt.requested else "FINISHED"
        finally:
            self.step_log.flush()
            table = self._finish(tracker, campaign_dir)
            tracker.finish(status)
            if started_ray:
                ray.shutdown()
        return CampaignResult(campaign_dir, self.records, table, tracker.uri, parent_id, self.objectives, interrupt.requested)

    def _portable_config(self) -> dict[str, Any]:
        """Return the config with file paths made absolute, so the folder resumes from anywhere."""
        data = self.config.model_dump(mode="json")
        data["search_space"] = str(Path(self.space.source).resolve())
        data["hardware"]["profiles"] = [
            str(profile_entry_path(entry, self.base_dir) or entry) for entry in self.config.hardware.profiles
        ]
        corpus = data["proxy"]["corpus"]
        entries = [corpus] if isinstance(corpus, str) else corpus
        absolute = [e if e == "stdlib" or Path(e).expanduser().is_absolute() else str(self.base_dir / e) for e in entries]
        data["proxy"]["corpus"] = absolute[0] if isinstance(corpus, str) else absolute
        return data

    def _restore_state(self, journal: Journal, tracker: Tracker) -> None:
        """Load the checkpoint (or start fresh) and bring it up to date with the journal and MLflow."""
        state = load_checkpoint(self.campaign_dir)
        if state is None:
            strategy = make_strategy(self.config.strategy, self.space, len(self.objectives), self.config.seed)
            state = ControllerState(strategy=strategy)
        for record in self.prefiltered + self.records:
            # The journal is ahead of the checkpoint when the driver died between the two writes.
            candidate_id = record["candidate_id"]
            if candidate_id not in state.told:
                proposal = state.in_flight.pop(candidate_id, None)
                genome = proposal.genome if proposal is not None else self.space.genome_from_mapping(record["genome"])
                if record["status"] == "infeasible":
                    state.strategy.tell_infeasible(genome)
                else:
                    state.strategy.tell(genome, self._objective_values(record))
                # Some strategies record a genome's id only when they propose it. A strategy restored
                # from an older checkpoint (or from none) must not propose a journaled genome again.
                state.strategy.seen.add(candidate_id)
                state.told.add(candidate_id)
            else:
                state.in_flight.pop(candidate_id, None)
        self.state = state
        if self.records or self.prefiltered or state.in_flight:
            save_checkpoint(self.campaign_dir, state)
        missing = 0
        for index, record in enumerate(self.records, start=1):
            if not tracker.has_candidate(record["candidate_id"]):
                self._log_to_mlflow(tracker, record, index)
                missing += 1
        caught_up = self.step_log.catch_up(self.records, self._extra_step_metrics()) if self.records else 0
        if missing or caught_up:
            logger.info("logged %d journal records and %d steps missing from MLflow", missing, caught_up)

    def _scheduler(self, ray: Any) -> RayScheduler:
        config = self.config
        if self.function is not None:
            return FunctionScheduler(
                ray, self.function, self.objectives, threads=config.ray.threads_per_worker, workers=config.ray.workers,
                time_limit_s=config.budget.evaluation_timeout_s, max_retries=config.ray.max_retries,
            )
        return RayScheduler(
            ray, self.corpus.train, self.corpus.validation, self.settings,
            threads=config.ray.threads_per_worker, workers=config.ray.workers, profiles=self.profiles,
            measure_options={
                "batch": config.hardware.batch_size, "context": config.hardware.context_length,
                "warmup": config.hardware.warmup, "repeats": config.hardware.repeats,
            },
            max_retries=config.ray.max_retries, train_function=self.train_function,
        )

    def _evaluation(self, proposal: Proposal) -> Evaluation:
        values = self.space.values_of(proposal.genome)
        if self.function is not None:
            return Evaluation(key=proposal, values=values)
        return Evaluation(key=proposal, arch=arch_from_values(values))

    def _prefilter(self, proposal: Proposal, evaluation: Evaluation) -> dict[str, Any] | None:
        """Return the `infeasible` record of a proposal that breaks a constraint, or None when it keeps them all."""
        if not self.constraints:
            return None
        evaluation.estimates = candidate_metrics(evaluation.arch, self.profiles, self.config)
        metrics = evaluation.estimates[0]
        reasons = violations(self.constraints, metrics)
        if not reasons:
            return None
        return {
            "candidate_id": proposal.genome.id, "genome": proposal.genome.to_dict(),
            "parents": list(proposal.parents), "operator": proposal.operator, "island": proposal.info.get("island"),
            "status": "infeasible", "reason": "; ".join(reasons), "metrics": metrics,
        }

    def _loop(
        self, ray: Any, journal: Journal, prefiltered: Journal, tracker: Tracker, campaign_dir: Path,
        interrupt: GracefulInterrupt,
    ) -> None:
        config = self.config
        state = self.state
        scheduler = self._scheduler(ray)
        rejected_in_a_row = 0
        budget = config.budget.evaluations
        # Proposals that were in flight when the campaign stopped are evaluated first, in ask order.
        resubmit = list(state.in_flight.values())
        started = time.perf_counter()
        timings = self.timings
        # Finished records waiting for MLflow. They are logged after the next submissions, so
        # workers do not wait on MLflow writes; the journal already has them.
        unlogged: list[dict[str, Any]] = []
        while len(self.records) < budget:
            while not interrupt.requested and scheduler.can_submit():
                if resubmit:
                    proposal = resubmit.pop(0)
                    evaluation = self._evaluation(proposal)
                elif len(self.records) + len(state.in_flight) < budget:
                    t0 = time.perf_counter()
                    proposal = state.strategy.ask()
                    t1 = time.perf_counter()
                    evaluation = self._evaluation(proposal)
                    rejected = self._prefilter(proposal, evaluation)
                    t2 = time.perf_counter()
                    if rejected is not None:
                        self._reject(proposal, rejected, prefiltered, campaign_dir)
                        rejected_in_a_row += 1
                        if rejected_in_a_row >= MAX_CONSECUTIVE_PREFILTERED:
                            raise UserError(
                                f"{rejected_in_a_row} proposals in a row broke the constraints; stopping",
                                field="constraints", value=config.constraints,
                                allowed="constraints that some genomes of the search space meet",
                            )
                        continue
                    rejected_in_a_row = 0
                    state.in_flight[proposal.genome.id] = proposal
                    save_checkpoint(campaign_dir, state)
                    timings["controller"] += t1 - t0
                    timings["metrics"] += t2 - t1
                    timings["journal"] += time.perf_counter() - t2
                else:
                    break
                scheduler.submit(evaluation)

            self._log_records(unlogged, started)
            if not scheduler.pending():
                break
            unlogged.append(self._complete(scheduler.wait(), journal, campaign_dir))
        self._log_records(unlogged, started)

    def _reject(self, proposal: Proposal, rejected: dict[str, Any], prefiltered: Journal, campaign_dir: Path) -> None:
        """Record a proposal that broke a constraint: journal it, tell the strategy, checkpoint."""
        # The journal line comes first, so a resume can pass it to a strategy whose checkpoint lacks it.
        prefiltered.append(rejected)
        self.prefiltered.append(rejected)
        self.state.strategy.tell_infeasible(proposal.genome)
        self.state.told.add(proposal.genome.id)
        save_checkpoint(campaign_dir, self.state)
        logger.info("prefiltered %s: %s", proposal.genome.id, rejected["reason"])

    def _complete(self, evaluation: Evaluation, journal: Journal, campaign_dir: Path) -> dict[str, Any]:
        """Record a finished evaluation: weights, journal line, tell, checkpoint; return its record."""
        state, timings = self.state, self.timings
        proposal = evaluation.key
        t0 = time.perf_counter()
        record = self._record(proposal, evaluation)
        t1 = time.perf_counter()
        self._save(record, evaluation.trained, campaign_dir)
        journal.append(record)
        self.records.append(record)
        t2 = time.perf_counter()
        state.in_flight.pop(proposal.genome.id, None)
        state.strategy.tell(proposal.genome, self._objective_values(record))
        state.told.add(proposal.genome.id)
        t3 = time.perf_counter()
        save_checkpoint(campaign_dir, state)
        t4 = time.perf_counter()
        timings["metrics"] += t1 - t0
        timings["journal"] += (t2 - t1) + (t4 - t3)
        timings["controller"] += t3 - t2
        return record

    def _log_records(self, unlogged: list[dict[str, Any]], started: float) -> None:
        """Log finished records to MLflow and print their log lines, in the order they finished."""
        budget = self.config.budget.evaluations
        first = len(self.records) - len(unlogged)  # they are the last records of the journal
        for offset, record in enumerate(unlogged):
            done = first + offset + 1
            t0 = time.perf_counter()
            self._log_to_mlflow(self.tracker, record, done)
            self.timings["tracking"] += time.perf_counter() - t0
            self._log_line(record, done, budget, started)
        unlogged.clear()
        self.loop_seconds = time.perf_counter() - started

    def _record(self, proposal: Proposal, evaluation: Evaluation) -> dict[str, Any]:
        trained = evaluation.trained
        if evaluation.estimates is not None:
            metrics, sources = dict(evaluation.estimates[0]), dict(evaluation.estimates[1])
        elif evaluation.arch is not None:
            metrics, sources = candidate_metrics(evaluation.arch, self.profiles, self.config)
        else:
            metrics, sources = dict(trained.get("metrics", {})), {}
        record: dict[str, Any] = {
            "candidate_id": proposal.genome.id,
            "genome": proposal.genome.to_dict(),
            "parents": list(proposal.parents),
            "operator": proposal.operator,
            "island": proposal.info.get("island"),  # None unless the strategy evolves islands
            "status": trained["status"],
            "failure_kind": trained.get("failure_kind"),
            "reason": trained.get("reason"),
            "seconds": evaluation.seconds,
            "train_node": trained.get("node_id"),
            "measure_nodes": {name: values.get("node_id") for name, values in evaluation.latency.items()},
        }
        if trained["status"] == "ok" and evaluation.arch is not None:
            for key in ("val_loss", "val_bpb", "train_loss", "train_seconds", "train_steps", "train_tokens"):
                metrics[key] = float(trained[key])
            for name, values in evaluation.latency.items():
                for key, value in values.items():
                    if isinstance(value, (int, float)) and not isinstance(value, bool):
                        metrics[f"{key}@{name}"] = float(value)
                        if key in ("latency_ms_prefill", "latency_ms_per_token_decode"):
                            sources[f"{key}@{name}"] = "measured"
        record["metrics"] = metrics
        record["sources"] = sources
        return record

    def _objective_values(self, record: dict[str, Any]) -> np.ndarray | None:
        if record["status"] != "ok":
            return None
        return self.goals.minimization(record["metrics"])

    def _save(self, record: dict[str, Any], trained: dict[str, Any], campaign_dir: Path) -> None:
        if record["status"] != "ok" or self.function is not None:
            return
        from shinka.export import save_candidate

        save_candidate(
            campaign_dir / "candidates" / record["candidate_id"],
            arch_from_values(self.space.values_of(record["genome"])),
            record["genome"],
            trained["state_dict"],
            record["metrics"],
        )

    def _log_to_mlflow(self, tracker: Tracker, record: dict[str, Any], done: int) -> None:
        params = {f"gene.{k}": v for k, v in record["genome"].items()}
        tags = {
            "status": record["status"],
            "operator": record["operator"],
            "parents": ",".join(record["parents"]),
            # A strategy without islands evolves one population: island 0.
            "island": str(record.get("island") or 0),
        }
        if record.get("reason"):
            tags["failure_reason"] = record["reason"][:5000]
            tags["failure_kind"] = record.get("failure_kind") or "error"
        failures = self._failure_counts()
        parent_tags = {"failures": ", ".join(f"{kind}={count}" for kind, count in sorted(failures.items()))} if failures else None
        self.step_metrics = self.step_log.add(self.records[:done], done, self._extra_step_metrics(), parent_tags)
        # The child run starts with its Pareto tags; the step log updates them when the front moves.
        tags.update(self.step_log.candidate_tags(record["candidate_id"]))
        tracker.log_candidate(record["candidate_id"], params, record["metrics"], tags, step=done)
        self.step_log.flush_if_due()

    def _extra_step_metrics(self) -> dict[str, float] | None:
        return {"prefiltered": len(self.prefiltered)} if self.constraints else None

    def _failure_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for record in self.records:
            if record["status"] != "ok":
                kind = record.get("failure_kind") or "error"
                counts[kind] = counts.get(kind, 0) + 1
        return counts

    def _log_line(self, record: dict[str, Any], done: int, budget: int, started: float) -> None:
        if record["status"] == "ok":
            summary = " ".join(f"{o}={record['metrics'][o]:.4g}" for o in self.objectives)
        else:
            summary = f"failed: {record['reason']}"
        elapsed = time.perf_counter() - started
        logger.info("[%d/%d %.0fs] %s %s", done, budget, elapsed, record["candidate_id"], summary)
        if self.progress is not None:
            self.progress(done, budget, self.step_metrics)

    def _finish(self, tracker: Tracker, campaign_dir: Path) -> Any:
        table = front_table(self.records, self.objectives, self.config.maximize)
        if table.empty:
            return table
        outputs = write_front_outputs(table, self.objectives, campaign_dir, f"{self.config.name}: Pareto front")
        for artifact_path, paths in outputs.items():
            for path in paths:
                tracker.log_artifact(path, artifact_path or None)
        # Tags follow every evaluation already; this catches up a campaign resumed from an older folder.
        tracker.update_candidate_tags(pareto_tags(dict(zip(table["candidate_id"], table["pareto_rank"]))))
        if len(self.records) >= self.config.budget.evaluations and self.function is None:
            from shinka.export_mlflow import log_front_models

            front_ids = list(table[table["on_front"]]["candidate_id"])
            log_front_models(tracker, front_ids, campaign_dir, self.config.tracking.log_models)
        return table


def run_campaign(config_path: str | Path, ray_address: str | None = None) -> CampaignResult:
    """Load, validate and run the campaign described by `config_path`."""
    return Campaign.prepare(config_path, ray_address).run()


def resume_campaign(campaign_dir: str | Path, ray_address: str | None = None) -> CampaignResult:
    """Continue a campaign from its folder: nothing finished is evaluated again."""
    return Campaign.reopen(campaign_dir, ray_address).run()
