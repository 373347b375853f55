"""Checkpoints of the audit chain: sealing the chain head with the key held outside the database.

A seal signs (position, notification id, chain hash, time, key id). It is stored in `tocsin_seals`
(append-only) and also appended to a journal file outside the database (`data_dir/audit/seals.jsonl`),
so deleting seals from the database to hide a rewrite is itself detected.

When to seal: `tocsin audit seal` seals once; `tocsin audit seal --every SECONDS` is a small worker that
seals whenever new events were chained since the last seal (run it next to the ingestion workers, or
run `tocsin audit seal` from cron). Events after the last seal are chained but not yet sealed: a full
rewrite of those (chain rows included) is only detectable after the next seal, so keep the interval
short (default 60 s). Before signing, the sealer verifies the chain since the previous seal: it never
seals a chain that is already broken.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from psycopg.sql import SQL

from replay.audit.hashes import seal_payload
from replay.audit.keys import key_id


@dataclass(frozen=True)
class Seal:
    position: int
    notification_id: int
    chain_hash: bytes
    sealed_at: datetime
    key_id: str
    signature: bytes
    id: int | None = None

    def payload(self) -> bytes:
        return seal_payload(
            position=self.position, notification_id=self.notification_id, chain_hash=self.chain_hash,
            sealed_at=self.sealed_at, key_id=self.key_id,
        )

    def is_signed_by(self, keys: dict[str, Ed25519PublicKey]) -> bool:
        key = keys.get(self.key_id)
        if key is None:
            return False
        try:
            key.verify(self.signature, self.payload())
        except InvalidSignature:
            return False
        return True

    def as_json(self) -> dict[str, Any]:
        return {
            "position": self.position, "notification_id": self.notification_id, "chain_hash": self.chain_hash.hex(),
            "sealed_at": self.sealed_at.isoformat(), "key_id": self.key_id, "signature": self.signature.hex(),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Seal:
        return cls(
            int(data["position"]), int(data["notification_id"]), bytes.fromhex(data["chain_hash"]),
            datetime.fromisoformat(data["sealed_at"]), data["key_id"], bytes.fromhex(data["signature"]),
        )


class ChainBroken(Exception):
    """The chain failed verification: sealing it would bless the tampering."""

    def __init__(self, report: Any) -> None:
        super().__init__(report.summary())
        self.report = report


def journal_file(data_dir: Path) -> Path:
    return data_dir / "audit" / "seals.jsonl"


def read_journal(path: Path) -> list[Seal]:
    if not path.exists():
        return []
    return [Seal.from_json(json.loads(line)) for line in path.read_text().splitlines() if line.strip()]


def list_seals(store: Any) -> list[Seal]:
    with store.connect() as conn:
        rows = conn.execute(
            SQL("SELECT id, position, notification_id, chain_hash, sealed_at, key_id, signature FROM {}"
                " ORDER BY position, id").format(store.table("tocsin_seals"))
        ).fetchall()
    return [
        Seal(r["position"], r["notification_id"], bytes(r["chain_hash"]), r["sealed_at"], r["key_id"],
             bytes(r["signature"]), r["id"])
        for r in rows
    ]


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
    from replay.audit.verify import verify_store  # verification uses this module's Seal

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
    unsigned = Seal(head["position"], head["notification_id"], bytes(head["chain_hash"]), sealed_at, key_id(public), b"")
    signed = Seal(**{**unsigned.__dict__, "signature": key.sign(unsigned.payload())})
    with store.connect() as conn:
        row = conn.execute(
            SQL("INSERT INTO {} (position, notification_id, chain_hash, sealed_at, key_id, signature)"
                " VALUES (%s,%s,%s,%s,%s,%s) RETURNING id").format(store.table("tocsin_seals")),
            (signed.position, signed.notification_id, signed.chain_hash, signed.sealed_at, signed.key_id,
             signed.signature),
        ).fetchone()  # pooled connections autocommit
    journal = journal_file(data_dir)
    journal.parent.mkdir(parents=True, exist_ok=True)
    with journal.open("a") as f:
        f.write(json.dumps(signed.as_json()) + "\n")
    return Seal(**{**signed.__dict__, "id": row["id"]})
