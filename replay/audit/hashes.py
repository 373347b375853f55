"""The canonical hashes of the audit chain, computed the same way here and in PostgreSQL.

PL/pgSQL (adapters/store/audit_schema.py) computes them when an event is inserted; this module recomputes
them when verifying, in the database or in an exported bundle on another machine. It depends on the
standard library only, so a bundle can carry it and be checked without Tocsin installed.

Every hashed value is framed as a 4-byte big-endian length then the bytes (NULL is the length
0xFFFFFFFF and no bytes), so no two different inputs concatenate to the same string.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from uuid import UUID

GENESIS = bytes(32)  # the "previous chain hash" of position 1
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NULL = b"\xff\xff\xff\xff"


def field(value: bytes | None) -> bytes:
    return _NULL if value is None else len(value).to_bytes(4, "big") + value


def text(value: str | None) -> bytes | None:
    return None if value is None else value.encode("utf-8")


def micros(value: datetime | int | None) -> bytes | None:
    """A time as its count of microseconds since 1970 in decimal (what PostgreSQL's extract gives);
    an int is taken as that count already (the verifier asks PostgreSQL for it, which is faster)."""
    if value is None:
        return None
    if isinstance(value, int):
        return str(value).encode()
    delta = value - _EPOCH
    return str(delta.days * 86_400_000_000 + delta.seconds * 1_000_000 + delta.microseconds).encode()


def int8(value: int) -> bytes:
    return value.to_bytes(8, "big", signed=True)


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def message_hash(
    *,
    distribution_id: str,
    case_id: str | None,
    kind: str,
    sender_id: str | None,
    sent_at: datetime | int | None,
    received_at: datetime | int | None,
    raw_sha256: bytes,
    source: str,
    stored_body_hash: bytes | None,
) -> bytes:
    """The message index row of an event plus the hash of its stored (encrypted) raw message."""
    return sha256(
        b"tocsin-message-v1"
        + field(text(distribution_id))
        + field(text(case_id))
        + field(text(kind))
        + field(text(sender_id))
        + field(micros(sent_at))
        + field(micros(received_at))
        + field(raw_sha256)
        + field(text(source))
        + field(stored_body_hash)
    )


def event_hash(
    *,
    notification_id: int,
    originator_id: UUID,
    originator_version: int,
    topic: str,
    state_hash: bytes,
    message_hash: bytes | None,
) -> bytes:
    """One stored event: its identity, its topic, the hash of its stored (encrypted) state, its message."""
    return sha256(
        b"tocsin-event-v1"
        + field(int8(notification_id))
        + field(originator_id.bytes)
        + field(int8(originator_version))
        + field(text(topic))
        + field(state_hash)
        + field(message_hash)
    )


def chain_hash(*, previous: bytes, position: int, chained_at: datetime | int | None, event_hash: bytes) -> bytes:
    """The link at `position`: it commits to every event before it through `previous`."""
    return sha256(
        b"tocsin-chain-v1" + field(previous) + field(int8(position)) + field(micros(chained_at)) + field(event_hash)
    )


def seal_payload(*, position: int, notification_id: int, chain_hash: bytes, sealed_at: datetime, key_id: str) -> bytes:
    """The exact bytes a checkpoint's Ed25519 signature covers."""
    return "\n".join(
        ["tocsin-seal-v1", str(position), str(notification_id), chain_hash.hex(),
         (micros(sealed_at) or b"").decode(), key_id]  # never empty: a datetime has its count
    ).encode()
