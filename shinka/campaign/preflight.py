"""Checks that an external service answers, made before a campaign writes anything."""

from __future__ import annotations

import socket
import urllib.error
import urllib.request
from urllib.parse import urlparse

from shinka.errors import UserError

CONNECT_TIMEOUT_S = 3.0


def check_ray_address(address: str, *, field: str = "ray.address") -> None:
    """Raise a UserError unless something accepts TCP connections at a Ray address.

    "auto" and "local" are left to Ray. Accepted forms: host:port and ray://host:port.
    """
    if address in ("auto", "local"):
        return
    parsed = urlparse(address if "://" in address else f"tcp://{address}")
    if parsed.hostname is None or parsed.port is None:
        raise UserError("invalid Ray address", field=field, value=address, allowed="HOST:PORT, ray://HOST:PORT or auto")
    try:
        with socket.create_connection((parsed.hostname, parsed.port), timeout=CONNECT_TIMEOUT_S):
            pass
    except OSError as error:
        raise UserError(
            f"cannot reach the Ray cluster ({error.strerror or error})", field=field, value=address,
            allowed="the address of a running head node (see `ray start --head`)",
        ) from None


def check_tracking_uri(uri: str, *, field: str = "tracking.uri") -> None:
    """Raise a UserError unless an http(s) MLflow server answers its /health endpoint."""
    if not uri.startswith(("http://", "https://")):
        return
    try:
        with urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=CONNECT_TIMEOUT_S) as response:
            if response.status != 200:
                raise OSError(f"HTTP {response.status}")
    except (OSError, urllib.error.URLError) as error:
        reason = getattr(error, "reason", error)
        raise UserError(
            f"cannot reach the MLflow tracking server ({reason})", field=field, value=uri,
            allowed="the URL of a running `mlflow server`",
        ) from None
