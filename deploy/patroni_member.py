"""Patroni, for the local cluster (deploy/local-cluster): one member, its PostgreSQL in its process group.

Patroni starts PostgreSQL in a session of its own (os.setsid), so that restarting Patroni leaves the
database running. On one machine standing for several, the member must die as a machine does: `kill -9`
of the member's process group must take Patroni AND its PostgreSQL down, otherwise the old primary
would go on accepting writes after the standby was promoted (on real machines a watchdog or the power
cut does that). So this launcher gives Patroni the same start function without the setsid: the
postmaster stays in Patroni's group. Everything else is Patroni as published on PyPI.

    python deploy/patroni_member.py patroni.yml
"""

from __future__ import annotations

import subprocess
import sys
from multiprocessing.connection import Connection


def pg_ctl_start(conn: Connection, cmdline: list[str], env: dict[str, str]) -> None:
    """patroni.postgresql.postmaster.pg_ctl_start, less its os.setsid()."""
    try:
        postmaster = subprocess.Popen(cmdline, close_fds=True, env=env)
        conn.send(postmaster.pid)
    except Exception:  # noqa: BLE001 - Patroni's own contract: None means "could not start"
        conn.send(None)
    conn.close()


if __name__ == "__main__":
    from patroni.__main__ import main
    from patroni.postgresql import postmaster

    # Patroni starts the postmaster from a "spawn" multiprocessing child that unpickles the target by
    # name: this module's function, found again in the child as __main__'s (the same file).
    postmaster.pg_ctl_start = pg_ctl_start  # type: ignore[assignment]
    sys.argv = ["patroni", *sys.argv[1:]]
    main()
