"""`shinka resume CAMPAIGN_DIR`: continue a stopped or killed campaign."""

from __future__ import annotations

import argparse


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "resume",
        help="continue a campaign from its folder (after Ctrl-C, a crash or SIGKILL)",
        description=(
            "Continue a campaign: finished evaluations are kept from the journal, candidates that were "
            "in flight are evaluated again, and MLflow gets any child run it is missing."
        ),
    )
    parser.add_argument("campaign_dir", help="campaign folder written by `shinka run`")
    parser.add_argument(
        "--ray-address", default=None,
        help="join an existing Ray cluster at HOST:PORT instead of starting embedded Ray (default: RAY_ADDRESS or embedded)",
    )
    parser.add_argument(
        "--no-progress", action="store_true",
        help="print one log line per evaluation instead of the progress bar (default: show the bar)",
    )
    parser.set_defaults(handler=_resume)


def _resume(args: argparse.Namespace) -> int:
    from shinka.campaign.runner import Campaign
    from shinka.cli.progress import run_with_progress

    campaign = Campaign.reopen(args.campaign_dir, args.ray_address)
    result = run_with_progress(campaign, enabled=not args.no_progress)
    failed = sum(1 for r in result.records if r["status"] != "ok")
    print(f"\n{len(result.records)} candidates in the journal ({failed} failed). Campaign folder: {result.campaign_dir}")
    if result.interrupted:
        print(f"Interrupted. Continue with: shinka resume {result.campaign_dir}")
        return 130
    return 0
