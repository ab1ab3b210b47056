"""`shinka estimate GENOME_FILE`: cost-model counts and, with a profile, latency, energy and memory."""

from __future__ import annotations

import argparse
import json


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("estimate", help="print cost-model counts of a genome (and estimates on a profile)")
    parser.add_argument(
        "genome_file",
        help="YAML genome file: a `genes:` mapping (with an optional `fixed:` mapping merged under it), "
        "a plain mapping of gene values, or an exported model.yaml (its `arch` is used)",
    )
    parser.add_argument("--profile", help="hardware profile name for latency (ms), energy (mJ) and memory (MB)")
    parser.add_argument("--batch", type=int, default=1, help="sequences per step (default 1)")
    parser.add_argument("--context", type=int, default=None, help="context length in tokens (default: the genome's)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.set_defaults(handler=_estimate)


def _estimate(args: argparse.Namespace) -> int:
    from shinka.cost.counts import summarize
    from shinka.errors import UserError
    from shinka.hardware.profile import load_named_profile
    from shinka.hardware.roofline import estimate
    from shinka.yamlio import read_yaml_mapping

    document = read_yaml_mapping(args.genome_file, what="genome")
    if args.batch < 1 or (args.context is not None and args.context < 1):
        raise UserError("batch and context must be >= 1", field="--batch/--context", value=(args.batch, args.context))
    try:
        arch = _arch_of(document)
    except (ValueError, TypeError, KeyError) as error:
        raise UserError(f"invalid genome: {error}", file=args.genome_file) from None
    if args.context is not None and args.context > arch.context_length:
        raise UserError(
            "--context exceeds the genome's context_length", field="--context", value=args.context,
            allowed=f"an integer from 1 to {arch.context_length}",
        )
    result = summarize(arch, args.batch, args.context)
    if args.profile:
        result.update(estimate(arch, load_named_profile(args.profile), args.batch, args.context))
        result["source"] = "estimated"
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for key, value in result.items():
            print(f"{key:36s} {value}")
    return 0


def _arch_of(document: dict):
    """Return the ArchConfig a genome document describes (see the genome_file help)."""
    from shinka.model.arch import ArchConfig, arch_from_values

    if isinstance(document.get("arch"), dict):
        return ArchConfig.from_dict(document["arch"])
    values = document.get("genes", document.get("genome", document))
    if not isinstance(values, dict):
        raise ValueError("'genes' must be a mapping of gene values")
    fixed = document.get("fixed") or {}
    if not isinstance(fixed, dict):
        raise ValueError("'fixed' must be a mapping of values")
    merged = {**fixed, **values}
    merged.pop("id", None)
    return arch_from_values(merged)
