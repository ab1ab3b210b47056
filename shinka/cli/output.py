"""Terminal output shared by commands."""

from __future__ import annotations

import pandas as pd
from rich.console import Console
from rich.table import Table


def print_front(table: pd.DataFrame, objectives: list[str]) -> None:
    """Print the Pareto front (rank 0 rows) with objectives and genes as a table."""
    # A fixed width keeps the table readable when output goes to a file or a pipe.
    console = Console(width=max(Console().width, 160))
    if table.empty:
        console.print("No successful candidate: the front is empty.")
        return
    front = table[table["on_front"]]
    genes = [c for c in table.columns if c.startswith("gene.")]
    view = Table(title=f"Pareto front: {len(front)} of {len(table)} successful candidates")
    view.add_column("candidate")
    for name in objectives:
        view.add_column(name, justify="right")
    for name in genes:
        view.add_column(name.removeprefix("gene."))
    for row in front.itertuples(index=False):
        data = row._asdict()
        cells = [str(data["candidate_id"])]  # 12 hex digits
        cells += [f"{getattr(row, _field(table, o)):.4g}" for o in objectives]
        cells += [_cell(getattr(row, _field(table, g))) for g in genes]
        view.add_row(*cells)
    console.print(view)


def _field(table: pd.DataFrame, column: str) -> str:
    # itertuples renames columns that are not identifiers to _<position>.
    position = list(table.columns).index(column)
    return column if column.isidentifier() else f"_{position}"


def _cell(value: object) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
