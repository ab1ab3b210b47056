"""`shinka space validate|describe|sample FILE`: check and inspect a search space."""

from __future__ import annotations

import argparse
import random


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("space", help="validate, describe or sample a search space file")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", parser_class=type(parser))
    actions.required = True
    validate = actions.add_parser("validate", help="check a search space; exit 2 with one line on error")
    validate.add_argument("file")
    validate.set_defaults(handler=_validate)
    describe = actions.add_parser("describe", help="print the gene table and the number of valid genomes")
    describe.add_argument("file")
    describe.set_defaults(handler=_describe)
    sample = actions.add_parser("sample", help="print N random valid genomes as YAML")
    sample.add_argument("file")
    sample.add_argument("-n", type=int, default=5, help="number of genomes (default 5)")
    sample.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    sample.set_defaults(handler=_sample)


def _validate(args: argparse.Namespace) -> int:
    from shinka.space import load_search_space

    space = load_search_space(args.file)
    print(f"{args.file}: valid {space.kind} search space '{space.name}' with {len(space.genes)} genes")
    return 0


def _describe(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from shinka.space import load_search_space

    space = load_search_space(args.file)
    table = Table(title=f"{space.name} ({space.kind})")
    table.add_column("gene")
    table.add_column("domain")
    table.add_column("values", justify="right")
    for name, gene in space.genes.items():
        table.add_row(name, gene.describe(), str(gene.cardinality() or "continuous"))
    Console().print(table)
    if space.fixed:
        print("fixed: " + ", ".join(f"{k}={v}" for k, v in space.fixed.items()))
    for constraint in space.constraints:
        print(f"constraint: {constraint.expression}")
    raw = space.raw_size()
    if raw is None:
        print("distinct genomes: infinite (continuous genes)")
    elif raw <= 2_000_000:
        print(f"distinct genomes: {len(space.enumerate_valid())} valid of {raw} combinations")
    else:
        print(f"distinct genomes: {raw} combinations before constraints (too many to enumerate)")
    return 0


def _sample(args: argparse.Namespace) -> int:
    from shinka.errors import UserError
    from shinka.space import load_search_space
    from shinka.yamlio import dump_yaml

    if args.n < 1:
        raise UserError("invalid -n", field="-n", value=args.n, allowed="an integer >= 1")
    space = load_search_space(args.file)
    rng = random.Random(args.seed)
    genomes = [{"id": g.id, "genes": g.to_dict()} for g in (space.sample(rng) for _ in range(args.n))]
    print(dump_yaml(genomes), end="")
    return 0
