"""Writing simulated messages to disk, one file each, for tools that replay a directory."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from .timeline import JSON, SimulatedMessage

FILES_PER_FOLDER = 10_000


def write_messages(messages: Iterable[SimulatedMessage], out_dir: Path, *,
                   files_per_folder: int = FILES_PER_FOLDER) -> int:
    """Write ``{seq:07d}-{kind}.{json|xml}`` files (seq from 0, delivery order) in subfolders
    ``0000/``, ``0001/``… of 10,000 files each; return how many were written."""
    out_dir = Path(out_dir)
    count = 0
    folder = out_dir
    for count, message in enumerate(messages, start=1):
        seq = count - 1
        if seq % files_per_folder == 0:
            folder = out_dir / f"{seq // files_per_folder:04d}"
            folder.mkdir(parents=True, exist_ok=True)
        extension = "json" if message.content_type == JSON else "xml"
        (folder / f"{seq:07d}-{message.kind}.{extension}").write_bytes(message.raw)
    return count
