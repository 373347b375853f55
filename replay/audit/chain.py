"""Checkpoints of the audit chain: sealing the chain head with the key held outside the database.

A seal (replay/audit/seals.py) signs (position, notification id, chain hash, time, key id). It is stored
in `tocsin_seals` (append-only) and also appended to a journal file outside the database
(`data_dir/audit/seals.jsonl`), so deleting seals from the database to hide a rewrite is itself detected.

When to seal: `tocsin audit seal` seals once; `tocsin audit seal --every SECONDS` is a small worker that
seals whenever new events were chained since the last seal (run it next to the ingestion workers, or
run `tocsin audit seal` from cron). Events after the last seal are chained but not yet sealed: a full
rewrite of those (chain rows included) is only detectable after the next seal, so keep the interval
short (default 60 s). Before signing, the sealer verifies the chain since the previous seal: it never
seals a chain that is already broken.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from psycopg.sql import SQL

from replay.audit.keys import key_id
from replay.audit.seals import Seal, journal_file, list_seals
from replay.audit.verify import VerifyReport, verify_store


class ChainBroken(Exception):
    """The chain failed verification: sealing it would bless the tampering."""

    def __init__(self, report: VerifyReport) -> None:
        super().__init__(report.summary())
        self.report = report


def chain_head(store: Any) -> dict | None:
    """The last link: position, notification id, chain hash."""
    with store.connect() as conn:
        return conn.execute(
            SQL("SELECT position, notification_id, chain_hash FROM {} ORDER BY position DESC LIMIT 1").format(
                store.table("tocsin_chain")
            )
        ).fetchone()


def seal(store: Any, key: Ed25519PrivateKey, data_dir: Path) -> Seal | None:
    """Sign the current chain head (after verifying the links since the last valid seal).

    Returns the new seal, the latest one when nothing was chained since, or None on an empty chain.
    """
    public = key.public_key()
    keys = {key_id(public): public}
    previous = [s for s in list_seals(store) if s.is_signed_by(keys)]
    start = previous[-1] if previous else None
    report = verify_store(store, keys, start_after=start)
    if not report.ok:
        raise ChainBroken(report)
    head = chain_head(store)
    if head is None:
        return None
    if start is not None and start.position == head["position"]:
        return start
    sealed_at = datetime.now(UTC)
    unsigned = Seal(head["position"], head["notification_id"], bytes(head["chain_hash"]), sealed_at, key_id(public),
                    b"")
    signed = Seal(**{**unsigned.__dict__, "signature": key.sign(unsigned.payload())})
    with store.connect() as conn:
        row = conn.execute(
            SQL("INSERT INTO {} (position, notification_id, chain_hash, sealed_at, key_id, signature)"
                " VALUES (%s,%s,%s,%s,%s,%s) RETURNING id").format(store.table("tocsin_seals")),
            (signed.position, signed.notification_id, signed.chain_hash, signed.sealed_at, signed.key_id,
             signed.signature),
        ).fetchone()  # pooled connections autocommit
    journal = journal_file(data_dir, store.settings.schema)
    journal.parent.mkdir(parents=True, exist_ok=True)
    with journal.open("a") as f:
        f.write(json.dumps(signed.as_json()) + "\n")
    return Seal(**{**signed.__dict__, "id": row["id"]})
