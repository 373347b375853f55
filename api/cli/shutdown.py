"""Stopping the served commands cleanly when a service manager sends SIGTERM."""

from __future__ import annotations

import signal
import sys


def exit_cleanly_on_sigterm() -> None:
    """Uvicorn shuts down gracefully on SIGTERM, then raises the signal again. Its default action would
    end the process on the spot, skipping `finally` blocks and exit handlers (the embedded NATS and
    PostgreSQL would keep running); exiting through SystemExit runs them. Main thread only."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
