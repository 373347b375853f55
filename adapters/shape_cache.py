"""A binary cache of the reference polygons.

    shapes = cached_shapes(path, read, directory)   # {code: geometry}, as read(path) gives them

GEOS parses the communes' GeoJSON much more slowly than their WKB, and every process that locates
points loads them when it starts: each ingestion worker, the API. So the first process
writes them as WKB and the next ones read that.

The cache lives in `directory` (Settings.cache_dir: $TOCSIN_CACHE_DIR, else $XDG_CACHE_HOME/tocsin, else
~/.cache/tocsin), under a name carrying the source file's SHA-256 (a changed source is never read from a
stale cache). It is written atomically (several workers may start at once) as a NumPy archive of plain
arrays, read without pickle. Any failure to read or write it falls back to the source.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import shapely

log = logging.getLogger(__name__)


def cached_shapes(path: Path, read: Callable[[Path], dict[str, Any]], directory: Path) -> dict[str, Any]:
    cache = directory / f"{path.name}.{hashlib.sha256(path.read_bytes()).hexdigest()[:24]}.npz"
    try:
        return _load(cache)
    except FileNotFoundError:
        pass
    except Exception as error:  # damaged or foreign: the source is still there
        log.warning("geometry cache unreadable (%s): %s; reading %s", cache, error, path.name)
    shapes = read(path)
    try:
        _save(cache, shapes)
    except (OSError, ValueError, TypeError) as error:  # read-only home, a geometry WKB cannot carry…
        log.info("geometry cache not written (%s): %s", cache, error)
    return shapes


def _load(cache: Path) -> dict[str, Any]:
    with np.load(cache, allow_pickle=False) as archive:
        codes, blob, ends = archive["codes"].tolist(), archive["wkb"].tobytes(), archive["ends"].tolist()
    starts = [0, *ends[:-1]] if ends else []
    geoms = shapely.from_wkb([blob[start:end] for start, end in zip(starts, ends, strict=True)])
    return dict(zip(codes, geoms, strict=True))


def _save(cache: Path, shapes: dict[str, Any]) -> None:
    wkbs = shapely.to_wkb(np.array(list(shapes.values()), dtype=object)).tolist()
    if any(w is None for w in wkbs):
        raise ValueError("missing geometry")
    ends = np.cumsum([len(w) for w in wkbs], dtype=np.int64)
    cache.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=cache.parent, prefix=cache.name, suffix=".tmp", delete=False) as f:
        try:
            blob = np.frombuffer(b"".join(wkbs), dtype=np.uint8)
            np.savez(f, codes=np.array(list(shapes), dtype=str), wkb=blob, ends=ends)
            f.flush()
            os.fsync(f.fileno())
        except BaseException:
            os.unlink(f.name)
            raise
    os.replace(f.name, cache)
