"""Key files: created once, owner-only, never seen half written, the same for concurrent creators."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

from adapters.secret_file import create_once


def _create_and_read(args: tuple[Path, int]) -> bytes:
    path, i = args
    create_once(path, f"key-{i}".encode() * 1000)
    return path.read_bytes()


def test_concurrent_creators_all_read_the_first_key(tmp_path):
    path = tmp_path / "secrets" / "cipher.key"
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        seen = pool.map(_create_and_read, [(path, i) for i in range(24)])
    assert len(set(seen)) == 1
    assert seen[0] in {f"key-{i}".encode() * 1000 for i in range(24)}  # whole, never half written
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.parent.stat().st_mode & 0o777 == 0o700
    assert [p.name for p in path.parent.iterdir()] == ["cipher.key"]  # no temporary file left behind


def test_an_existing_key_is_never_replaced(tmp_path):
    path = tmp_path / "jwt.key"
    create_once(path, b"first")
    create_once(path, b"second")
    assert path.read_bytes() == b"first"
