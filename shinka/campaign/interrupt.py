"""Ctrl-C handling for the driver: the first stops proposing, the second exits at once."""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType

logger = logging.getLogger(__name__)


class GracefulInterrupt:
    """Context manager that turns the first SIGINT into a stop request.

    While active, the first SIGINT sets `requested`; the driver then stops
    proposing, lets running evaluations finish, checkpoints and exits. A
    second SIGINT raises KeyboardInterrupt at once. Outside the main thread
    (where signal handlers cannot be set) it does nothing.
    """

    def __init__(self) -> None:
        self.requested = False
        self._previous = None

    def __enter__(self) -> "GracefulInterrupt":
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        logger.warning("interrupt: no new candidates; waiting for running evaluations (Ctrl-C again to exit now)")
