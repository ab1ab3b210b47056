"""`shinka compare DIR DIR [...]`: two or more campaigns' fronts and hypervolumes side by side."""

from __future__ import annotations

import argparse

from shinka.search.hypervolume import REFERENCE


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "compare",
        help="compare the fronts and hypervolumes of two or more campaigns, as a table and a plot",
        description=(
            "Compare campaigns on the objectives they share. Every objective is min-max normalized with bounds "
            "over all successful candidates of all the campaigns together (0 = best value seen, 1 = worst), "
            f"and each front's hypervolume is measured against the reference point {REFERENCE:g} "
            "on every normalized objective. Numbers are comparable within one comparison only: adding a "
            "campaign can move the bounds."
        ),
    )
    parser.add_argument("campaign_dirs", nargs="+", metavar="CAMPAIGN_DIR", help="two or more campaign folders")
    parser.add_argument("--plot", metavar="FILE", help="write the normalized fronts, one panel per objective pair, as PNG")
    parser.add_argument("--csv", metavar="FILE", help="write the comparison table as CSV")
    parser.set_defaults(handler=_compare)


def _compare(args: argparse.Namespace) -> int:
    from pathlib import Path

    from rich.console import Console
    from rich.table import Table

    from shinka.campaign.plots import plot_comparison
    from shinka.campaign.results import compare_campaigns, load_campaign_folder
    from shinka.errors import UserError
    from shinka.yamlio import write_text_atomic

    if len(args.campaign_dirs) < 2:
        raise UserError("compare needs at least two campaign folders", field="CAMPAIGN_DIR",
                        value=args.campaign_dirs)
    for option, value in (("--plot", args.plot), ("--csv", args.csv)):
        if value and not Path(value).parent.is_dir():
            raise UserError("output folder not found", field=option, value=value)
    folders = [load_campaign_folder(d) for d in args.campaign_dirs]
    summary, fronts, shared = compare_campaigns(folders)

    table = Table(title=f"Campaigns compared on {', '.join(shared)} (normalized together)")
    for column in summary.columns:
        table.add_column(column, justify="left" if column in ("campaign", "strategy") else "right")
    for row in summary.itertuples(index=False):
        table.add_row(*[f"{v:.4f}" if isinstance(v, float) else str(v) for v in row])
    Console(width=max(Console().width, 120)).print(table)
    if args.csv:
        write_text_atomic(Path(args.csv), summary.to_csv(index=False))
        print(f"wrote {args.csv}")
    if args.plot:
        plot_comparison(fronts, shared, args.plot, "Pareto fronts, objectives normalized across campaigns")
        print(f"wrote {args.plot}")
    return 0
