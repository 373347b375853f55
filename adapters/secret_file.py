"""Files readable by their owner only: key files created once, safely between processes that start at the
same moment, and what Tocsin writes for people to take away (audit bundles, reports)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import BinaryIO


def create_once(path: Path, content: bytes) -> None:
    """Create `path` (mode 0600, in a 0700 folder) holding `content`, unless it exists already.

    Written to a temporary file then hard-linked into place: a reader never sees it half written,
    and when two processes create it at once the first link wins and both then read the same key.
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".creating-")  # mkstemp: mode 0600
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(content)
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass  # another process created it first: use theirs
    finally:
        os.unlink(temporary)


def open_private(path: Path) -> BinaryIO:
    """`path`, truncated, open for writing and readable by its owner only (0600) whatever the umask: an
    export may carry personal data, and the folder it lands in may be shared. An existing file keeps its
    mode through O_CREAT, hence the fchmod."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(descriptor, 0o600)
    return os.fdopen(descriptor, "wb")
