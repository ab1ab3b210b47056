"""The `shinka` commands users read results with: help, status, front, compare, export --top, run's progress bar."""

from __future__ import annotations

import csv
import io
import json
import shutil

import pytest
from rich.console import Console
from user_campaigns import campaign_dir, tiny_campaigns

from shinka.cli import main
from shinka.cli.progress import CampaignProgress, make_progress

COMMANDS = ("run", "resume", "status", "front", "export", "compare", "space", "hardware", "estimate", "ui")


@pytest.fixture(scope="module")
def campaigns(tmp_path_factory):
    return tiny_campaigns(tmp_path_factory)


def run_cli(capsys, *argv) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as stop:  # --help and argparse errors exit through SystemExit
        code = stop.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def killed_copy(result, tmp_path, keep: int):
    """Copy a campaign folder as a killed campaign would leave it: `keep` journal lines and no front files."""
    folder = tmp_path / "killed"
    shutil.copytree(campaign_dir(result), folder)
    lines = (folder / "journal.jsonl").read_text().splitlines(keepends=True)
    (folder / "journal.jsonl").write_text("".join(lines[:keep]))
    for name in ("front.csv", "front.png", "front.html"):
        (folder / name).unlink()
    return folder


def test_help_lists_commands(capsys):
    code, out, _ = run_cli(capsys, "--help")
    assert code == 0
    for command in COMMANDS:
        assert f"    {command} " in out, command


@pytest.mark.parametrize("command", ["status", "front", "export", "compare", "ui", "run"])
def test_command_help_exit_codes(capsys, command):
    code, out, _ = run_cli(capsys, command, "--help")
    assert code == 0
    assert "Exit codes: 0 success, 2 user error" in " ".join(out.split())


def test_status_finished(campaigns, capsys):
    code, out, _ = run_cli(capsys, "status", str(campaign_dir(campaigns.nsga2)))
    assert code == 0
    assert "state      finished" in out
    assert "evaluated  6 of 6" in out


def test_status_json_fields(campaigns, capsys):
    result = campaigns.nsga2
    code, out, _ = run_cli(capsys, "status", str(campaign_dir(result)), "--json")
    status = json.loads(out)
    assert code == 0
    assert status["finished"] is True
    assert status["front_size"] == int(result.front["on_front"].sum())
    assert set(status["best"]) == set(result.objectives)
    best = min(r["metrics"]["val_bpb"] for r in result.records if r["status"] == "ok")
    assert status["best"]["val_bpb"]["value"] == best


def test_status_incomplete(campaigns, capsys, tmp_path):
    folder = killed_copy(campaigns.nsga2, tmp_path, keep=3)
    code, out, _ = run_cli(capsys, "status", str(folder), "--json")
    status = json.loads(out)
    assert code == 0
    assert status["finished"] is False
    assert status["evaluated"] == 3


def test_status_not_a_campaign(capsys, tmp_path):
    code, _, err = run_cli(capsys, "status", str(tmp_path))
    assert code == 2
    assert err.startswith("error: ")
    assert "config.yaml" in err


def test_front_csv_front_only(campaigns, capsys, tmp_path):
    result = campaigns.nsga2
    target = tmp_path / "front.csv"
    code, out, _ = run_cli(capsys, "front", str(campaign_dir(result)), "--csv", str(target))
    rows = list(csv.DictReader(io.StringIO(target.read_text())))
    assert code == 0
    assert "Pareto front" in out
    assert {r["candidate_id"] for r in rows} == set(result.front[result.front["on_front"]]["candidate_id"])


def test_front_csv_all(campaigns, capsys, tmp_path):
    result = campaigns.nsga2
    target = tmp_path / "all.csv"
    run_cli(capsys, "front", str(campaign_dir(result)), "--csv", str(target), "--all")
    rows = list(csv.DictReader(io.StringIO(target.read_text())))
    assert len(rows) == sum(1 for r in result.records if r["status"] == "ok")


def test_front_killed_campaign(campaigns, capsys, tmp_path):
    folder = killed_copy(campaigns.nsga2, tmp_path, keep=2)
    target = tmp_path / "front.csv"
    code, _, _ = run_cli(capsys, "front", str(folder), "--csv", str(target))
    rows = list(csv.DictReader(io.StringIO(target.read_text())))
    kept_ids = [json.loads(line)["candidate_id"] for line in (folder / "journal.jsonl").read_text().splitlines()]
    assert code == 0
    assert rows
    assert {r["candidate_id"] for r in rows} <= set(kept_ids)


def test_front_csv_missing_folder(campaigns, capsys, tmp_path):
    code, _, err = run_cli(capsys, "front", str(campaign_dir(campaigns.nsga2)), "--csv", str(tmp_path / "no" / "f.csv"))
    assert code == 2
    assert "--csv" in err


def test_compare_table_and_plot(campaigns, capsys, tmp_path):
    plot, table = tmp_path / "compare.png", tmp_path / "compare.csv"
    code, out, _ = run_cli(
        capsys, "compare", str(campaign_dir(campaigns.nsga2)), str(campaign_dir(campaigns.random)),
        "--plot", str(plot), "--csv", str(table),
    )
    rows = list(csv.DictReader(io.StringIO(table.read_text())))
    assert code == 0
    assert "normalized together" in " ".join(out.split())
    assert plot.read_bytes().startswith(b"\x89PNG")
    assert [r["strategy"] for r in rows] == ["nsga2", "random"]
    for row in rows:
        assert 0.0 < float(row["hypervolume"]) <= 1.1 ** 3


def test_compare_needs_two(campaigns, capsys):
    code, _, err = run_cli(capsys, "compare", str(campaign_dir(campaigns.nsga2)))
    assert code == 2
    assert "at least two" in err


def test_export_top_names(campaigns, capsys, tmp_path):
    result = campaigns.nsga2
    code, _, _ = run_cli(capsys, "export", str(campaign_dir(result)), "--top", "2", "--out", str(tmp_path / "out"))
    folders = sorted(p.name for p in (tmp_path / "out").iterdir())
    expected = [f"{rank:02d}-{cid}" for rank, cid in enumerate(result.front["candidate_id"].head(2), start=1)]
    assert code == 0
    assert folders == expected


def test_export_bad_format(campaigns, capsys, tmp_path):
    code, _, err = run_cli(capsys, "export", str(campaign_dir(campaigns.nsga2)), "--format", "pickle",
                           "--out", str(tmp_path / "out"))
    assert code == 2
    assert "config, safetensors, onnx, mlflow" in err


def test_export_two_selections(campaigns, capsys, tmp_path):
    code, _, err = run_cli(capsys, "export", str(campaign_dir(campaigns.nsga2)), "--front", "--top", "2",
                           "--out", str(tmp_path / "out"))
    assert code == 2
    assert "not allowed with" in err


def render_progress(calls) -> str:
    console = Console(record=True, width=160, file=io.StringIO(), force_terminal=False)
    progress = make_progress(console)
    bar = CampaignProgress(progress)
    for call in calls:
        bar(*call)
    console.print(progress.get_renderable())
    return console.export_text()


def test_progress_bar_counts():
    text = render_progress([(1, 6, {"failed": 0, "hypervolume": 0.25}), (2, 6, {"failed": 1, "hypervolume": 0.5})])
    assert "2/6" in text
    assert "hypervolume 0.5" in text
    assert "failed 1" in text


def test_progress_bar_time_left():
    text = render_progress([(1, 6, {"failed": 0})])
    assert "left ~0:00:" in text


def test_progress_bar_without_hypervolume():
    text = render_progress([(1, 4, {"failed": 0})])
    assert "hypervolume n/a" in text
