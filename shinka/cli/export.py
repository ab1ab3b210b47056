"""`shinka export CAMPAIGN_DIR`: write chosen candidates as config, safetensors, ONNX and MLflow models."""

from __future__ import annotations

import argparse

FORMAT_HELP = (
    "comma-separated formats: config (model.yaml: genome, architecture, metrics), safetensors (weights), "
    "onnx (model.onnx, logits of the frozen model), mlflow (mlflow_model/, also logged to the candidate's "
    "MLflow run) (default: config,safetensors)"
)


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "export",
        help="export chosen candidates of a campaign (config, safetensors, ONNX, MLflow) with a model card",
        description=(
            "Write one folder per chosen candidate under --out, each with the formats asked for and a "
            "MODEL_CARD.md that lists its objectives on every profile. Candidates come from the journal, so "
            "a running or killed campaign can be exported too. Without a selection option, --top 3 applies."
        ),
    )
    parser.add_argument("campaign_dir", help="campaign folder written by `shinka run`")
    choice = parser.add_mutually_exclusive_group()
    choice.add_argument("--candidate", action="append", metavar="ID",
                        help="a candidate id (12 hex digits, as `shinka front` prints); repeat for several")
    choice.add_argument("--front", action="store_true", help="every member of the Pareto front")
    choice.add_argument("--best-for", metavar="PROFILE",
                        help="the compromise pick for one hardware profile: the front member over the model "
                             "objectives and that profile's metrics nearest the ideal point (see docs/export.md)")
    choice.add_argument("--top", type=int, metavar="K",
                        help="the K best candidates, front first, ordered by the first objective (default 3)")
    parser.add_argument("--format", default="config,safetensors", help=FORMAT_HELP)
    parser.add_argument("--out", required=True, help="output folder; one subfolder per candidate")
    parser.add_argument("--register", metavar="NAME",
                        help="register the best candidate of every campaign profile in the MLflow model registry "
                             "as model NAME with the alias best-<profile> (default: register nothing)")
    parser.set_defaults(handler=_export)


def _export(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from shinka.export_candidates import export_candidates, parse_formats, register_best

    formats = parse_formats(args.format)
    top = args.top
    if args.candidate is None and not args.front and args.best_for is None and top is None:
        top = 3
    exported = export_candidates(
        args.campaign_dir, args.out, candidates=args.candidate, front=args.front, best_for=args.best_for,
        top=top, formats=formats,
    )
    table = Table(title=f"Exported {len(exported)} candidates to {args.out}")
    for column in ("candidate", "folder", "files", "ONNX max |diff|", "MLflow model"):
        table.add_column(column)
    for item in exported:
        difference = "" if item.onnx_difference is None else f"{item.onnx_difference:.2g}"
        table.add_row(item.candidate_id, str(item.folder), ", ".join(item.files), difference, item.model_uri or "")
    Console(width=200).print(table)
    if args.register:
        for entry in register_best(args.campaign_dir, args.register):
            print(f"registered {entry.name}@{entry.alias} -> version {entry.version} "
                  f"(candidate {entry.candidate_id}, best for {entry.profile})")
    return 0
