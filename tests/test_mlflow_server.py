"""A campaign logs to a real `mlflow server` over HTTP on 127.0.0.1."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import mlflow
import pytest
from conftest import write_campaign

from shinka.campaign.runner import Campaign

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("server")
    port = free_port()
    mlflow_bin = Path(sys.executable).parent / "mlflow"
    process = subprocess.Popen(
        [str(mlflow_bin), "server", "--host", "127.0.0.1", "--port", str(port),
         "--backend-store-uri", f"sqlite:///{folder / 'server.db'}", "--artifacts-destination", str(folder / "artifacts"),
         "--workers", "1"],
        cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    uri = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(uri + "/health", timeout=2) as response:
                if response.status == 200:
                    break
        except OSError:
            time.sleep(0.5)
    else:
        os.killpg(process.pid, signal.SIGTERM)
        pytest.fail("mlflow server did not start within 120 s")
    yield uri
    os.killpg(process.pid, signal.SIGTERM)
    process.wait(timeout=30)


def test_campaign_against_server(ray_local, mlflow_server, tmp_path):
    config = write_campaign(tmp_path, tracking={"uri": mlflow_server}, budget={"evaluations": 3}, strategy={"population_size": 2})
    result = Campaign.prepare(config).run()
    client = mlflow.tracking.MlflowClient(mlflow_server)
    parent = client.get_run(result.parent_run_id)
    children = client.search_runs([parent.info.experiment_id], f"tags.mlflow.parentRunId = '{result.parent_run_id}'")
    assert len(children) == 3
    artifacts = {item.path for item in client.list_artifacts(result.parent_run_id)}
    assert "front.csv" in artifacts
    assert not (tmp_path / "mlflow.db").exists()
