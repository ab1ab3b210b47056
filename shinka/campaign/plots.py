"""Pictures of campaign results: Pareto fronts as PNG (matplotlib) and HTML (plotly).

Every file is written under a temporary name and moved into place, so a
reader never sees half a picture.
"""

from __future__ import annotations

import itertools
import logging
import os
import tempfile
from pathlib import Path

import pandas as pd

from shinka.yamlio import write_text_atomic

logger = logging.getLogger(__name__)

FRONT_COLOR = "tab:red"
OTHER_COLOR = "0.6"


def objective_pairs(objectives: list[str]) -> list[tuple[str, str]]:
    """Return every unordered pair of objectives, in campaign order."""
    return list(itertools.combinations(objectives, 2))


def pair_file_name(x: str, y: str) -> str:
    """Return the PNG file name for the plot of objective `y` against objective `x`."""
    from shinka.export import safe_name

    return safe_name(f"{y}_vs_{x}") + ".png"


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save_figure(figure, path: Path) -> Path:
    plt = _pyplot()
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=path.suffix)
    os.close(handle)
    try:
        figure.savefig(temporary, dpi=110)
        os.replace(temporary, path)
    finally:
        plt.close(figure)
        Path(temporary).unlink(missing_ok=True)
    return path


def _scatter_pair(axis, table: pd.DataFrame, x: str, y: str) -> None:
    front = table[table["on_front"]]
    axis.scatter(table[x], table[y], s=18, color=OTHER_COLOR, label="evaluated")
    axis.scatter(front[x], front[y], s=30, color=FRONT_COLOR, label="Pareto front")
    axis.set_xlabel(x)
    axis.set_ylabel(y)
    axis.grid(alpha=0.3)


def plot_front(table: pd.DataFrame, objectives: list[str], path: str | Path, title: str) -> Path:
    """Plot the first objective against each other one, side by side, in one PNG."""
    plt = _pyplot()
    others = objectives[1:]
    figure, axes = plt.subplots(1, len(others), figsize=(5 * len(others), 4), squeeze=False)
    for axis, other in zip(axes[0], others):
        _scatter_pair(axis, table, other, objectives[0])
    axes[0][0].legend()
    figure.suptitle(title)
    figure.tight_layout()
    return _save_figure(figure, Path(path))


def plot_front_pairs(table: pd.DataFrame, objectives: list[str], folder: str | Path, title: str) -> list[Path]:
    """Write one PNG per pair of objectives into `folder`; return the files.

    Front membership is over all objectives, so a front member may look
    dominated in a single pair.
    """
    plt = _pyplot()
    paths = []
    for x, y in objective_pairs(objectives):
        figure, axis = plt.subplots(figsize=(5.5, 4.2))
        _scatter_pair(axis, table, x, y)
        axis.legend()
        axis.set_title(title, fontsize=10)
        figure.tight_layout()
        paths.append(_save_figure(figure, Path(folder) / pair_file_name(x, y)))
    return paths


def plot_front_html(table: pd.DataFrame, objectives: list[str], path: str | Path, title: str) -> Path:
    """Write an interactive plotly scatter matrix of the objectives (one self-contained HTML file).

    Hovering a point shows its candidate id, Pareto rank and genes. The
    plotly.js library is embedded (about 5 MB) so that the file opens without
    network access.
    """
    import plotly.graph_objects as go

    genes = [c for c in table.columns if c.startswith("gene.")]
    figure = go.Figure()
    for on_front, name, color in ((False, "evaluated", "gray"), (True, "Pareto front", "crimson")):
        part = table[table["on_front"] == on_front]
        hover = [
            "<br>".join([f"candidate {row['candidate_id']}", f"Pareto rank {row['pareto_rank']}"]
                        + [f"{g.removeprefix('gene.')}={row[g]}" for g in genes])
            for _, row in part.iterrows()
        ]
        marker = {"color": color, "size": 7 if on_front else 5}
        if len(objectives) == 2:
            figure.add_trace(go.Scatter(x=part[objectives[0]], y=part[objectives[1]], mode="markers", name=name,
                                        marker=marker, hovertext=hover, hoverinfo="text"))
        else:
            dimensions = [{"label": o, "values": part[o]} for o in objectives]
            figure.add_trace(go.Splom(dimensions=dimensions, name=name, marker=marker, hovertext=hover,
                                      hoverinfo="text", diagonal_visible=False, showupperhalf=False))
    if len(objectives) == 2:
        figure.update_layout(xaxis_title=objectives[0], yaxis_title=objectives[1])
    size = max(500, 260 * len(objectives))
    figure.update_layout(title=title, width=size + 150, height=size, hovermode="closest")
    html = figure.to_html(include_plotlyjs=True, full_html=True)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, html)
    return path


def plot_comparison(fronts: dict[str, pd.DataFrame], objectives: list[str], path: str | Path, title: str) -> Path:
    """Plot each campaign's normalized front for every pair of objectives, one panel per pair, in one PNG."""
    plt = _pyplot()
    pairs = objective_pairs(objectives)
    columns = min(3, len(pairs))
    rows = (len(pairs) + columns - 1) // columns
    figure, axes = plt.subplots(rows, columns, figsize=(5 * columns, 4 * rows), squeeze=False)
    markers = itertools.cycle("osD^vP*X")
    styles = {label: next(markers) for label in fronts}
    for axis, (x, y) in zip(axes.flat, pairs):
        for label, front in fronts.items():
            ordered = front.sort_values(x)
            axis.plot(ordered[x], ordered[y], marker=styles[label], linestyle="--", linewidth=0.8, label=label)
        axis.set_xlabel(f"{x} (normalized)")
        axis.set_ylabel(f"{y} (normalized)")
        axis.grid(alpha=0.3)
    for axis in list(axes.flat)[len(pairs):]:
        axis.set_visible(False)
    axes[0][0].legend(fontsize=8)
    figure.suptitle(title)
    figure.tight_layout()
    return _save_figure(figure, Path(path))
