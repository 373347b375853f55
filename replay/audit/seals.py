"""A seal of the audit chain, and the two places seals are kept: the `tocsin_seals` table and the
journal file outside the database (`data_dir/audit/seals.jsonl`, one per database schema).

Sealing (replay/audit/chain.py) writes them; verification (replay/audit/verify.py), the audit history
and the bundle read them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from psycopg.sql import SQL

from replay.audit.hashes import seal_payload


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


def journal_file(data_dir: Path, schema: str) -> Path:
    """The journal of one database schema's seals. Several schemas may share a data folder (tests, a
    staging copy beside production): one journal for all would make each schema's verification see the
    others' seals as deleted ones. The `public` schema keeps the original name, so its journals stay valid."""
    if schema == "public":
        return data_dir / "audit" / "seals.jsonl"
    return data_dir / "audit" / f"seals.{schema}.jsonl"


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
