"""Ports for a run: chosen free when it starts, so that two runs (two worktrees, a test and a bench) never
share one."""

from __future__ import annotations

import random
import socket

# Below Linux's ephemeral range (32768 and up), where outgoing connections take their local ports, and above
# the machine's own services (PostgreSQL 5432, NATS 4222, a developer's cluster on 15400).
LOW, HIGH = 17000, 32000


def free_port_block(span: int = 100, attempts: int = 200) -> int:
    """A base port whose `span` ports from it are all free on 127.0.0.1 now (deploy/local-cluster uses
    base + an offset below 100). Chosen at random, so that two runs probing at once rarely pick the same."""
    for _ in range(attempts):
        base = random.randrange(LOW, HIGH - span, span)
        if all(_free(port) for port in range(base, base + span)):
            return base
    raise RuntimeError(f"aucun bloc de {span} ports libres entre {LOW} et {HIGH}")


def _free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True
