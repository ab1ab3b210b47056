"""`shinka status CAMPAIGN_DIR`: report a running or finished campaign from its folder (files only)."""

from __future__ import annotations

import argparse
import json
import time


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "status",
        help="report progress, failures, best values and front size of a campaign from its folder",
        description=(
            "Read the campaign folder (config.yaml, journal.jsonl, campaign.json) and report how far it got. "
            "It reads files only, so it is safe while the campaign runs. A campaign is finished when the "
            "journal holds its whole evaluation budget."
        ),
    )
    parser.add_argument("campaign_dir", help="campaign folder written by `shinka run`")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    parser.set_defaults(handler=_status)


def campaign_status(campaign_dir: str) -> dict:
    """Return the status fields of a campaign folder as a JSON-ready dict."""
    from shinka.campaign.results import (
        best_per_objective,
        front_ranks,
        load_campaign_folder,
        step_metrics,
    )

    campaign = load_campaign_folder(campaign_dir)
    records = campaign.records
    ranks = front_ranks(records, campaign.objectives, campaign.maximize)
    counts = step_metrics(records, campaign.objectives, ranks, campaign.maximize)
    failures: dict[str, int] = {}
    for record in records:
        if record.get("status") != "ok":
            kind = record.get("failure_kind") or "error"
            failures[kind] = failures.get(kind, 0) + 1
    prefiltered = campaign.path / "prefiltered.jsonl"
    prefiltered_count = len(prefiltered.read_text().splitlines()) if prefiltered.is_file() else 0
    journal = campaign.path / "journal.jsonl"
    last_write = journal.stat().st_mtime if journal.is_file() else None
    return {
        "campaign": campaign.name,
        "folder": str(campaign.path),
        "strategy": campaign.strategy,
        "finished": len(records) >= campaign.budget > 0,
        "evaluated": len(records),
        "budget": campaign.budget,
        "feasible": counts["feasible"],
        "failed": counts["failed"],
        "failures": failures,
        "prefiltered": prefiltered_count,
        "front_size": counts["front_size"],
        "hypervolume": counts["hypervolume"],
        "best": {o: {"candidate_id": cid, "value": value}
                 for o, (cid, value) in best_per_objective(records, campaign.objectives, campaign.maximize).items()},
        "seconds_since_last_evaluation": None if last_write is None else round(time.time() - last_write, 1),
    }


def _status(args: argparse.Namespace) -> int:
    status = campaign_status(args.campaign_dir)
    if args.json:
        print(json.dumps(status, indent=2))
        return 0
    if status["finished"]:
        state = "finished"
    else:
        since = status["seconds_since_last_evaluation"]
        last = "no evaluation yet" if since is None else f"last evaluation {since:.0f} s ago"
        state = f"incomplete ({last}): running, or stopped; continue a stopped one with `shinka resume {status['folder']}`"
    print(f"campaign   {status['campaign']} ({status['strategy']}) in {status['folder']}")
    print(f"state      {state}")
    print(f"evaluated  {status['evaluated']} of {status['budget']} "
          f"({status['feasible']} feasible, {status['failed']} failed)")
    if status["prefiltered"]:
        print(f"prefiltered {status['prefiltered']} proposals broke a constraint and were never trained")
    if status["failures"]:
        print("failures   " + ", ".join(f"{kind}: {count}" for kind, count in sorted(status["failures"].items())))
    print(f"front      {status['front_size']} candidates, hypervolume {status['hypervolume']:.4g} "
          "(normalized with this campaign's own bounds)")
    for objective, best in status["best"].items():
        print(f"best       {objective} = {best['value']:.6g} (candidate {best['candidate_id']})")
    return 0
