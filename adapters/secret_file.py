"""Key files created once, owner-only, safely between processes that start at the same moment."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


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
