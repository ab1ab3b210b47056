"""`shinka space validate|describe|sample FILE`: check and inspect a search space."""

from __future__ import annotations

import argparse
import random


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("space", help="validate, describe or sample a search space file")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", parser_class=type(parser))
    actions.required = True
    validate = actions.add_parser(
        "validate", help="check a search space and that every gene value appears in a valid genome; exit 2 with one line on error"
    )
    validate.add_argument("file")
    validate.set_defaults(handler=_validate)
    describe = actions.add_parser("describe", help="print the gene table and the number of valid genomes")
    describe.add_argument("file")
    describe.set_defaults(handler=_describe)
    sample = actions.add_parser(
        "sample", help="print N random valid genomes as a YAML list of {id, genes, fixed}; one item is a genome file"
    )
    sample.add_argument("file")
    sample.add_argument("-n", type=int, default=5, help="number of genomes (default 5)")
    sample.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    sample.set_defaults(handler=_sample)


def _validate(args: argparse.Namespace) -> int:
    from shinka.space import load_search_space
    from shinka.space.counting import analyse_space

    space = load_search_space(args.file)
    analysis = analyse_space(space)
    if analysis is not None:
        error = analysis.dead_value_error()
        if error is not None:
            raise error
    counted = f", {analysis.valid_genomes} valid genomes" if analysis is not None else ""
    print(f"{args.file}: valid {space.kind} search space '{space.name}' with {len(space.genes)} genes{counted}")
    return 0


def _describe(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from shinka.space import load_search_space
    from shinka.space.counting import analyse_space

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
    analysis = analyse_space(space)
    if raw is None:
        print("distinct genomes: infinite (continuous genes)")
    elif analysis is None:
        print(f"distinct genomes: not counted ({raw} combinations before constraints; a group of linked genes is too large)")
    else:
        print(f"distinct genomes: {analysis.valid_genomes} valid of {raw} combinations")
        if space.per_layer:
            print(f"distinct architectures: {analysis.valid_architectures} (inactive per-layer elements ignored)")
        for name, value, label in analysis.dead_values():
            reason = f" ({label} rejects it)" if label else ""
            print(f"warning: value {value!r} of gene {name} appears in no valid genome{reason}")
    return 0


def _sample(args: argparse.Namespace) -> int:
    from shinka.errors import UserError
    from shinka.space import load_search_space
    from shinka.yamlio import dump_yaml

    if args.n < 1:
        raise UserError("invalid -n", field="-n", value=args.n, allowed="an integer >= 1")
    space = load_search_space(args.file)
    rng = random.Random(args.seed)
    genomes = [
        {"id": g.id, "genes": g.to_dict(), "fixed": dict(space.fixed)} for g in (space.sample(rng) for _ in range(args.n))
    ]
    print(dump_yaml(genomes), end="")
    return 0
