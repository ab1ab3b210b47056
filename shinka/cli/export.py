"""`shinka export CAMPAIGN_DIR --top K --out DIR`: copy the best candidates' config and weights."""

from __future__ import annotations

import argparse


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("export", help="export the best candidates of a campaign (config + safetensors)")
    parser.add_argument("campaign_dir", help="campaign folder written by `shinka run`")
    parser.add_argument("--top", type=int, default=3, help="number of candidates, front first (default 3)")
    parser.add_argument("--out", required=True, help="output folder; one subfolder per candidate")
    parser.set_defaults(handler=_export)


def _export(args: argparse.Namespace) -> int:
    from shinka.export import export_top

    for folder in export_top(args.campaign_dir, args.out, args.top):
        print(folder)
    return 0
