"""`shinka ui` serves a campaign's runs on 127.0.0.1 and stops with its process."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from user_campaigns import campaign_dir, tiny_campaigns

from shinka.cli import main

pytestmark = pytest.mark.slow

SHINKA = Path(sys.executable).parent / "shinka"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    campaigns = tiny_campaigns(tmp_path_factory)
    port = free_port()
    log = tmp_path_factory.mktemp("ui") / "ui.out"
    with open(log, "w") as stream:
        process = subprocess.Popen([str(SHINKA), "ui", str(campaign_dir(campaigns.nsga2)), "--port", str(port)],
                                   stdout=stream, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and "MLflow UI: " not in log.read_text() and process.poll() is None:
        time.sleep(0.5)
    printed = log.read_text()
    if "MLflow UI: " not in printed:
        process.kill()
        pytest.fail(f"shinka ui did not print its URL within 120 s:\n{printed}")
    yield campaigns, port, process, printed
    if process.poll() is None:
        process.kill()
        process.wait(timeout=30)


def test_ui_prints_local_url(server):
    campaigns, port, _, printed = server
    assert f"MLflow UI: http://127.0.0.1:{port}/" in printed
    assert campaigns.nsga2.parent_run_id in printed


def test_ui_serves_page(server):
    _, port, _, _ = server
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as response:
        page = response.read().decode("utf-8", "replace")
    assert response.status == 200
    assert "<html" in page.lower()


def test_ui_runs_search(server):
    campaigns, port, _, _ = server
    body = json.dumps({"experiment_ids": ["1", "2"], "max_results": 100}).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{port}/api/2.0/mlflow/runs/search", data=body,
                                     headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        runs = json.loads(response.read())["runs"]
    run_ids = {run["info"]["run_id"] for run in runs}
    assert campaigns.nsga2.parent_run_id in run_ids
    assert len(run_ids) >= len(campaigns.nsga2.records) + 1


def test_ui_stops_on_sigterm(server):
    _, port, process, _ = server
    os.kill(process.pid, signal.SIGTERM)
    assert process.wait(timeout=60) == 0
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0


def test_ui_port_in_use(capsys):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        code = main(["ui", "--store", "sqlite:///unused.db", "--port", str(busy.getsockname()[1])])
    assert code == 2
    assert "--port" in capsys.readouterr().err
