"""`shinka run CAMPAIGN.yaml`: run a search campaign and print its Pareto front."""

from __future__ import annotations

import argparse


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("run", help="run a search campaign from a campaign file")
    parser.add_argument("campaign", help="campaign YAML file, e.g. experiments/quickstart.yaml")
    parser.add_argument(
        "--no-progress", action="store_true",
        help="print one log line per evaluation instead of the progress bar (default: show the bar)",
    )
    parser.add_argument(
        "--ray-address", default=None,
        help="join an existing Ray cluster at HOST:PORT instead of starting embedded Ray (default: RAY_ADDRESS or embedded)",
    )
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from shinka.campaign.runner import Campaign
    from shinka.cli.progress import run_with_progress

    campaign = Campaign.prepare(args.campaign, args.ray_address)
    result = run_with_progress(campaign, enabled=not args.no_progress)
    failed = sum(1 for r in result.records if r["status"] != "ok")
    print()
    prefiltered = f", {len(campaign.prefiltered)} more never trained: they broke a constraint" if campaign.prefiltered else ""
    print(f"Evaluated {len(result.records)} candidates ({failed} failed{prefiltered}). Campaign folder: {result.campaign_dir}")
    print(f"Front table and plot: {result.campaign_dir / 'front.csv'}, {result.campaign_dir / 'front.png'}")
    print(f"MLflow store: {result.tracking_uri} (parent run {result.parent_run_id})")
    print(f"Open the MLflow UI: shinka ui {result.campaign_dir}")
    if campaign.function is None:
        print(f"Export the best: shinka export {result.campaign_dir} --top 3 --out exports/")
    if result.interrupted:
        print(f"Interrupted. Continue with: shinka resume {result.campaign_dir}")
        return 130
    return 0
