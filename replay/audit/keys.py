"""The Ed25519 key that seals the audit chain, held outside the database.

A database superuser can rewrite rows and recompute every hash; what they cannot do without this key
is sign a checkpoint. So the private key lives in TOCSIN_AUDIT_SEAL_KEY (base64 of the 32-byte seed, or
PEM; read into Settings.audit_seal_key) or in `data_dir/secrets/audit-seal.key`, never in PostgreSQL.
Verification needs only the public key (`tocsin audit public-key`), which can be published and pinned
elsewhere.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Literal, overload

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from adapters.secret_file import create_once


def key_file(data_dir: Path) -> Path:
    return data_dir / "secrets" / "audit-seal.key"


@overload
def load_signing_key(
    data_dir: Path, *, configured: str | None = None, create: Literal[True] = True
) -> Ed25519PrivateKey:
    ...


@overload
def load_signing_key(data_dir: Path, *, configured: str | None = None, create: bool) -> Ed25519PrivateKey | None:
    ...


def load_signing_key(data_dir: Path, *, configured: str | None = None, create: bool = True) -> Ed25519PrivateKey | None:
    """The sealing key: the configured one (Settings.audit_seal_key), else the key file (created on first
    use if `create`)."""
    if configured:
        return _parse_private(configured.encode())
    path = key_file(data_dir)
    if not path.exists():
        if not create:
            return None
        create_once(path, Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ))
    return _parse_private(path.read_bytes())


def _parse_private(data: bytes) -> Ed25519PrivateKey:
    if b"BEGIN" in data:
        key = serialization.load_pem_private_key(data, password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError("la clé de scellement doit être une clé Ed25519")
        return key
    return Ed25519PrivateKey.from_private_bytes(base64.b64decode(data))


def public_pem(key: Ed25519PublicKey) -> str:
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def load_public_pem(data: str | bytes) -> Ed25519PublicKey:
    key = serialization.load_pem_public_key(data.encode() if isinstance(data, str) else data)
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("la clé publique doit être une clé Ed25519")
    return key


def key_id(key: Ed25519PublicKey) -> str:
    """A short fingerprint naming the key in each seal (so keys can be rotated)."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def trusted_keys(
    data_dir: Path, public_key_files: Sequence[Path] = (), *, configured: str | None = None
) -> dict[str, Ed25519PublicKey]:
    """The keys whose seals verification accepts: the local key's public half and any pinned file."""
    keys = [load_public_pem(p.read_bytes()) for p in public_key_files]
    local = load_signing_key(data_dir, configured=configured, create=False)
    if local is not None:
        keys.append(local.public_key())
    return {key_id(k): k for k in keys}
