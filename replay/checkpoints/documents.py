"""How a checkpoint's views are laid out in its stored parts, and read back lazily.

`parts_of` cuts the views (projections.memory.MemoryViews) into a small `meta` part (the département,
zone and national figures, where each commune's figures are stored, each département's zone), the
case -> shard index (CaseShards) and one part per shard (a département, or a pseudo-territory for the
cases not placed): the rows of its cases, the figures of its communes, and each case's folded state.
Each case's row and state is its own JSON document inside the shard: a replay parses the rows and
states of the few cases it folds or shows (LazyRows, LazyEntries), not all of them.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any
from uuid import UUID

import orjson

from domain.case_state import CaseState
from domain.geography import Level
from projections.case_list import UNPLACED
from projections.fold import CaseEntry
from projections.memory import MemoryViews, TerritoryRow

ROW_TIMES = ("opened_at", "closed_at", "last_message_at", "updated_at")  # datetimes of a case row
# What a territory's view reads of every case (its most serious open cases, its openings per hour).
SUMMARY = ("case_id", "commune", "departement", "zone", "status", "severity", "opened_at")


def parts_of(views: MemoryViews) -> tuple[dict[str, Any], dict[UUID, str], dict[str, dict[str, Any]]]:
    """The views (a fold of every event up to views.position) as stored parts: (meta, the shard of each
    case, each shard's part)."""
    shards: dict[str, dict[str, Any]] = {}
    case_shard: dict[UUID, str] = {}
    for oid, entry in views.entries.items():
        row = views.cases.get(oid)
        if row is None:
            continue
        shard = _shard_of_row(row)
        part = shards.setdefault(shard, _empty_part())
        part["entries"][oid.hex] = orjson.dumps((entry.state, entry.updated_at, entry.last_event_id))
        part["rows"][oid.hex] = orjson.dumps(row)
        part["index"][oid.hex] = [row[name] for name in SUMMARY]
        case_shard[oid] = shard
    commune_shard: dict[str, str] = {}
    for row in views.cases.values():
        commune_shard.setdefault(row["commune"], _shard_of_row(row))
    for code, territory in views.territories[Level.COMMUNE].items():
        shard = commune_shard.get(code, UNPLACED)
        commune_shard[code] = shard
        shards.setdefault(shard, _empty_part())["communes"][code] = (
            territory.figures, territory.updated_at)
    dep_zone = {row["departement"]: row["zone"] for row in views.cases.values()}
    meta = {
        "position": views.position,
        "territories": {level.value: {code: (row.figures, row.updated_at)
                                      for code, row in views.territories[level].items()}
                        for level in (Level.DEPARTEMENT, Level.ZONE, Level.NATIONAL)},
        "commune_shard": commune_shard,
        "dep_zone": dep_zone,
    }
    return meta, case_shard, shards


def _shard_of_row(row: dict) -> str:
    return row["departement"] or UNPLACED


def _empty_part() -> dict[str, dict]:
    return {"entries": {}, "rows": {}, "index": {}, "communes": {}}


def pack_shard(part: dict) -> bytes:
    """A shard's communes and case summaries as JSON, then each case's row and folded state, each its
    own JSON document, after it: a replay parses the rows and states of the few cases it folds or
    shows, not all of them (they are most of the bytes)."""
    offsets: dict[str, dict[str, tuple[int, int]]] = {"rows": {}, "entries": {}}
    documents, at = [], 0
    for kind, table in offsets.items():
        for key, document in part[kind].items():
            table[key] = (at, len(document))
            documents.append(document)
            at += len(document)
    head = orjson.dumps({"communes": part["communes"], "index": part["index"], **offsets})
    return len(head).to_bytes(8, "big") + head + b"".join(documents)


def unpack_shard(data: bytes) -> dict:
    """The shard's head; its "rows" and "entries" map an id to the (start, length) of its document in
    "documents" (sliced when the document is parsed, not all up front: most are never read)."""
    size = int.from_bytes(data[:8], "big")
    part = orjson.loads(data[8:8 + size])
    part["documents"] = memoryview(data)[8 + size:]
    return part


def _time(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


class Documents:
    """JSON documents of one kind (case rows, or folded states) of the loaded shards, by case id (hex)."""

    def __init__(self) -> None:
        self._parts: list[tuple[dict[str, list[int]], memoryview]] = []

    def add(self, offsets: dict[str, list[int]], documents: memoryview) -> None:
        self._parts.append((offsets, documents))

    def pop(self, key: str, default: Any = None) -> Any:
        for offsets, documents in self._parts:
            found = offsets.pop(key, None)
            if found is not None:
                start, length = found
                return documents[start:start + length]
        return default

    def __iter__(self) -> Iterator[str]:
        for offsets, _ in self._parts:
            yield from offsets


class LazyDocuments(dict[UUID, Any]):
    """A mapping by case id whose values are built from their stored JSON documents on first use.
    Values set meanwhile (by the fold) take precedence. The fold reads them with `get`."""

    def __init__(self, raw: Documents) -> None:
        super().__init__()
        self._raw = raw

    def get(self, oid: UUID, default: Any = None) -> Any:
        found = dict.get(self, oid)
        if found is None:
            raw = self._raw.pop(oid.hex, None)
            if raw is None:
                return default
            found = self[oid] = self._build(oid, orjson.loads(raw))
        return found

    def materialised(self) -> dict[UUID, Any]:
        for key in list(self._raw):
            self.get(UUID(key))
        return dict(self)

    def _build(self, oid: UUID, document: Any) -> Any:
        raise NotImplementedError


class LazyEntries(LazyDocuments):
    """Case entries (the folded states): a replay folds a few cases of a shard after the checkpoint,
    while it shows the rows of all of them. A document is [state, updated_at, last_event_id]."""

    def _build(self, oid: UUID, document: Any) -> CaseEntry:
        state, updated_at, last_event_id = document
        return CaseEntry(CaseState(**state), _time(updated_at), last_event_id)


class LazyRows(LazyDocuments):
    """Case rows: a territory's view reads the summary of every case (SUMMARY: where, status,
    severity, opening) and the full rows of the few it shows."""

    def __init__(self, raw: Documents, index: dict[str, list]) -> None:
        super().__init__(raw)
        self._index = index  # oid hex -> the SUMMARY fields (opened_at as ISO 8601)

    def _build(self, oid: UUID, document: Any) -> dict[str, Any]:
        return _row(oid, document)

    def summaries(self) -> Iterator[tuple[list, UUID | str]]:
        """(SUMMARY fields, key to `row`) of every case: parsed rows first, then the checkpoint's index."""
        parsed = set()
        for oid, row in dict.items(self):
            parsed.add(oid.hex)
            yield [row[name] for name in SUMMARY], oid
        for key, fields in self._index.items():
            if key not in parsed:
                yield [*fields[:-1], _time(fields[-1])], key

    def row(self, key: UUID | str) -> dict[str, Any]:
        return self.get(key if isinstance(key, UUID) else UUID(key))


def _row(oid: UUID, row: dict[str, Any]) -> dict[str, Any]:
    """A case row as stored (JSON) back to what the fold makes: its UUID and datetimes."""
    row["originator_id"] = oid
    for name in ROW_TIMES:
        if row[name] is not None:
            row[name] = datetime.fromisoformat(row[name])
    return row


class CaseShards:
    """Which shard holds each case of a checkpoint: records of (16-byte id, shard number), sorted,
    searched in place. A replay looks up a handful of cases; parsing a mapping of every case of the
    country took longer than the rest of the replay's set-up."""

    RECORD = 18

    def __init__(self, data: bytes) -> None:
        size = int.from_bytes(data[:4], "big")
        self.names: list[str] = orjson.loads(data[4:4 + size])
        self.records = memoryview(data)[4 + size:]

    @classmethod
    def pack(cls, case_shard: dict[UUID, str]) -> bytes:
        names = sorted(set(case_shard.values()))
        number = {name: i for i, name in enumerate(names)}
        head = orjson.dumps(names)
        return len(head).to_bytes(4, "big") + head + b"".join(
            oid.bytes + number[case_shard[oid]].to_bytes(2, "big") for oid in sorted(case_shard))

    def get(self, oid: UUID) -> str | None:
        wanted, records, size = oid.bytes, self.records, self.RECORD
        lo, hi = 0, len(records) // size
        while lo < hi:
            mid = (lo + hi) // 2
            found = records[mid * size:mid * size + 16].tobytes()
            if found == wanted:
                return self.names[int.from_bytes(records[mid * size + 16:mid * size + size], "big")]
            if found < wanted:
                lo = mid + 1
            else:
                hi = mid
        return None


def views_from_parts(meta: dict, parts: dict[str, dict]) -> MemoryViews:
    views = MemoryViews(position=meta["position"])
    for level_value, table in meta["territories"].items():
        views.territories[Level(level_value)] = {code: TerritoryRow(figures, datetime.fromisoformat(at))
                                                 for code, (figures, at) in table.items()}
    communes = views.territories[Level.COMMUNE]
    raw_rows, raw_entries = Documents(), Documents()
    index: dict[str, list] = {}
    for part in parts.values():
        raw_rows.add(part["rows"], part["documents"])
        raw_entries.add(part["entries"], part["documents"])
        index.update(part["index"])
        communes.update({code: TerritoryRow(figures, datetime.fromisoformat(at))
                         for code, (figures, at) in part["communes"].items()})
    views.cases = LazyRows(raw_rows, index)
    views.entries = LazyEntries(raw_entries)
    return views


def materialised(views: MemoryViews) -> MemoryViews:
    """The views with every row and case state parsed (as plain dicts), to fold on or read in full."""
    for name in ("cases", "entries"):
        lazy = getattr(views, name)
        if isinstance(lazy, LazyDocuments):
            setattr(views, name, lazy.materialised())
    return views
