"""`shinka ui [CAMPAIGN_DIR | --store URI]`: start the MLflow UI on a campaign's store, on 127.0.0.1 by default."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

logger = logging.getLogger(__name__)

READY_TIMEOUT_S = 120.0  # max wait for the server's /health endpoint to return 200


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "ui",
        help="start the MLflow UI on a campaign's tracking store and print its URL",
        description=(
            "Run `mlflow server` on the campaign's store until Ctrl-C or SIGTERM. The store is the one "
            "recorded in CAMPAIGN_DIR/campaign.json, else --store, else MLFLOW_TRACKING_URI, else "
            "sqlite:///mlflow.db in the working folder."
        ),
    )
    parser.add_argument("campaign_dir", nargs="?", help="campaign folder written by `shinka run`")
    parser.add_argument("--store", metavar="URI", help="MLflow tracking URI to serve instead of a campaign's")
    parser.add_argument("--port", type=int, default=5000, help="TCP port (default 5000)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to bind (default 127.0.0.1, this machine only; the server has no login)")
    parser.add_argument("--workers", type=int, default=1, help="server worker processes (default 1)")
    parser.set_defaults(handler=_ui)


def _store_and_page(args: argparse.Namespace) -> tuple[str, str]:
    """Return the tracking URI to serve and the URL path of the page to open."""
    from shinka.campaign.tracking import (
        absolute_tracking_uri,
        read_tracking_info,
        resolve_tracking_uri,
    )
    from shinka.errors import UserError

    if args.campaign_dir and args.store:
        raise UserError("give a campaign folder or --store, not both", field="--store", value=args.store)
    if args.campaign_dir:
        info = read_tracking_info(args.campaign_dir)
        page = ""
        if info.parent_run_id:
            from mlflow.tracking import MlflowClient

            experiment_id = MlflowClient(tracking_uri=info.tracking_uri).get_run(info.parent_run_id).info.experiment_id
            page = f"#/experiments/{experiment_id}/runs/{info.parent_run_id}"
        return info.tracking_uri, page
    return absolute_tracking_uri(resolve_tracking_uri(args.store)), ""


def _check_port(host: str, port: int) -> None:
    from shinka.errors import UserError

    if not 1 <= port <= 65535:
        raise UserError("invalid port", field="--port", value=port, allowed="1 to 65535")
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, port))
        except OSError as error:
            raise UserError(f"cannot listen on {host}:{port} ({error.strerror})", field="--port", value=port,
                            allowed="a free port, e.g. --port 5001") from None


def _wait_ready(url: str, server: subprocess.Popen) -> bool:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                if response.status == 200:
                    return True
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.5)
    return False


def _stop(server: subprocess.Popen) -> None:
    """Stop the server's whole process group (mlflow server starts worker processes)."""
    if server.poll() is not None:
        return
    for sent, wait_s in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
        try:
            os.killpg(server.pid, sent)
        except ProcessLookupError:
            return
        try:
            server.wait(timeout=wait_s)
            return
        except subprocess.TimeoutExpired:
            continue


def _ui(args: argparse.Namespace) -> int:
    from shinka.errors import UserError

    if args.workers < 1:
        raise UserError("invalid --workers", field="--workers", value=args.workers, allowed="an integer >= 1")
    uri, page = _store_and_page(args)
    _check_port(args.host, args.port)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        logger.warning("the MLflow server has no login; binding %s exposes the store to that network", args.host)
    command = [
        sys.executable, "-m", "mlflow", "server",
        "--backend-store-uri", uri,
        "--host", args.host, "--port", str(args.port), "--workers", str(args.workers),
    ]
    shown_host = f"[{args.host}]" if ":" in args.host else args.host
    url = f"http://{shown_host}:{args.port}"
    print(f"Starting the MLflow server on {uri} ...", flush=True)
    # A new process group, so stopping this command stops the server's workers too.
    server = subprocess.Popen(command, start_new_session=True)

    def _terminate(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        if not _wait_ready(url, server):
            code = server.poll()
            print(f"error: the MLflow server did not start (exit code {code})", file=sys.stderr)
            return 1
        print(f"MLflow UI: {url}/{page}", flush=True)
        print("Press Ctrl-C to stop it.", flush=True)
        return server.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        _stop(server)
        signal.signal(signal.SIGTERM, previous)
