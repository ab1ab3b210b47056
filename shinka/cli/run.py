"""`shinka run CAMPAIGN.yaml`: run a search campaign and print its Pareto front."""

from __future__ import annotations

import argparse

from shinka.cli.output import print_front


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("run", help="run a search campaign from a campaign file")
    parser.add_argument("campaign", help="campaign YAML file, e.g. experiments/quickstart.yaml")
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from shinka.campaign.runner import run_campaign

    result = run_campaign(args.campaign)
    print_front(result.front, result.objectives)
    failed = sum(1 for r in result.records if r["status"] != "ok")
    print()
    print(f"Evaluated {len(result.records)} candidates ({failed} failed). Campaign folder: {result.campaign_dir}")
    print(f"Front table and plot: {result.campaign_dir / 'front.csv'}, {result.campaign_dir / 'front.png'}")
    print(f"MLflow store: {result.tracking_uri} (parent run {result.parent_run_id})")
    print(f"Open the MLflow UI: mlflow ui --backend-store-uri {result.tracking_uri} --host 127.0.0.1")
    print(f"Export the best: shinka export {result.campaign_dir} --top 3 --out exports/")
    return 0
