"""notebooks/pareto_front.ipynb runs against a real tiny MLflow store, so it cannot rot unnoticed."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from user_campaigns import tiny_campaigns

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "pareto_front.ipynb"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    campaigns = tiny_campaigns(tmp_path_factory)
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    environment = {
        "SHINKA_TRACKING_URI": campaigns.tracking_uri,
        "SHINKA_EXPERIMENTS": "tiny-nsga2,tiny-random",
        "SHINKA_PARENT_RUN_ID": campaigns.nsga2.parent_run_id,
    }
    with pytest.MonkeyPatch.context() as patch:
        for key, value in environment.items():
            patch.setenv(key, value)  # the kernel inherits this process's environment
        client = NotebookClient(notebook, timeout=300, kernel_name="python3",
                                resources={"metadata": {"path": str(NOTEBOOK.parent)}})
        client.execute()
    return campaigns, notebook


def outputs(notebook, kind: str) -> list:
    return [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs if o.output_type == kind]


def test_notebook_no_errors(executed):
    _, notebook = executed
    assert outputs(notebook, "error") == []


def test_notebook_reads_parent(executed):
    campaigns, notebook = executed
    printed = "".join(o.text for o in outputs(notebook, "stream"))
    assert f"parent run {campaigns.nsga2.parent_run_id}" in printed


def test_notebook_front_table(executed):
    campaigns, notebook = executed
    front = set(campaigns.nsga2.front[campaigns.nsga2.front["on_front"]]["candidate_id"])
    tables = [o for o in outputs(notebook, "execute_result") if "text/html" in o.data]
    assert any(all(cid in t.data["text/html"] for cid in front) for t in tables)


def test_notebook_compares_strategies(executed):
    _, notebook = executed
    displayed = [o.data.get("text/plain", "") for o in outputs(notebook, "display_data")]
    assert any("nsga2" in text and "random" in text and "hypervolume" in text for text in displayed)


def test_notebook_draws_figures(executed):
    _, notebook = executed
    figures = [o for o in outputs(notebook, "display_data") if "image/png" in o.data]
    assert len(figures) >= 2


def test_notebook_saved_without_outputs():
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    assert outputs(notebook, "display_data") + outputs(notebook, "execute_result") == []
