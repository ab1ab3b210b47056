"""`shinka front CAMPAIGN_DIR`: print the Pareto front recomputed from the journal, optionally as CSV."""

from __future__ import annotations

import argparse


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "front",
        help="print a campaign's Pareto front (recomputed from journal.jsonl; works while it runs)",
        description="Recompute the Pareto front from the campaign journal and print it as a table.",
    )
    parser.add_argument("campaign_dir", help="campaign folder written by `shinka run`")
    parser.add_argument("--csv", metavar="FILE", help="also write the front as CSV to FILE (default: no file)")
    parser.add_argument("--all", action="store_true",
                        help="with --csv, write every successful candidate with its Pareto rank (default: front only)")
    parser.set_defaults(handler=_front)


def _front(args: argparse.Namespace) -> int:
    from pathlib import Path

    from shinka.campaign.results import front_table, load_campaign_folder
    from shinka.cli.output import print_front
    from shinka.errors import UserError
    from shinka.yamlio import write_text_atomic

    campaign = load_campaign_folder(args.campaign_dir)
    table = front_table(campaign.records, campaign.objectives, campaign.maximize)
    print_front(table, campaign.objectives)
    if args.csv:
        rows = table if (args.all or table.empty) else table[table["on_front"]]
        path = Path(args.csv)
        if not path.parent.is_dir():
            raise UserError("folder of the CSV file not found", field="--csv", value=args.csv)
        write_text_atomic(path, rows.to_csv(index=False))
        print(f"wrote {len(rows)} rows to {path}")
    return 0
