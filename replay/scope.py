"""What a replayed view needs: every case, the cases of one territory, or one case.

A territory's replay reads only the checkpoint shards of its cases and decodes only the events that can
change them: those of its cases, and those that can bring another case into it (a placement comes only
from a message's facts). The timeline (replay/timeline.py) selects its window's events the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import orjson
from eventsourcing.utils import get_topic

from adapters.store.codec import CaseEvent, EventDecoder
from domain.case import Case
from domain.geography import NATIONAL, Level, level_of_code
from domain.identity import case_uuid
from projections.case_list import UNPLACED
from replay.checkpoints.documents import CaseShards
from replay.event_log import happened_at


@dataclass(frozen=True)
class Scope:
    """What a replayed view needs: every case (None) or the cases of one territory, or one case."""

    level: Level | None = None  # None with oid None: everything
    code: str | None = None
    oid: UUID | None = None

    @property
    def everything(self) -> bool:
        return self.oid is None and (self.level is None or self.level == Level.NATIONAL
                                     or self.code == UNPLACED)

    def shards(self, meta: dict, cases: Callable[[], CaseShards]) -> set[str] | None:
        """Checkpoint shards holding the cases in scope at checkpoint time (None: all)."""
        if self.everything:
            return None
        if self.oid is not None:
            shard = cases().get(self.oid)
            return {shard} if shard else set()
        assert self.code is not None, "a territory's scope has its code"
        if self.level == Level.DEPARTEMENT:
            return {self.code}
        if self.level == Level.COMMUNE:
            shard = meta["commune_shard"].get(self.code)
            return {shard} if shard else set()
        return {dep for dep, zone in meta["dep_zone"].items() if zone == self.code}

    def brings_in(self, event: CaseEvent) -> bool:
        """Can this event place its case in scope? (Placements only come from a message's facts.)"""
        if self.oid is not None:
            return event.originator_id == self.oid
        placement = event.facts.get("placement") if isinstance(event.facts, dict) else None
        if not placement:
            return False
        assert self.level is not None, "a territory's scope has its level"
        key = {Level.COMMUNE: "insee", Level.DEPARTEMENT: "departement", Level.ZONE: "zone"}[self.level]
        return placement.get(key) == self.code


def scope_for(level: str, code: str) -> Scope:
    """The scope of a replay_view request (level as in replay/as_of.py)."""
    if level == "case":
        return Scope(oid=case_uuid(code))
    if level == "cases":  # a case list: of the nation, a zone, a département or a commune
        return Scope() if code == NATIONAL else Scope(level_of_code(code), code)
    lv = Level(level)
    return Scope(lv, NATIONAL if lv == Level.NATIONAL else code)



# Events that never carry a placement, so never bring a case into a territory (decoding is most of the
# cost of a replay: these are only decoded for cases already in scope).
_NOT_PLACING = frozenset(get_topic(cls) for cls in (
    Case.ResourcesUpdated, Case.Acknowledged, Case.ResourcesRequested, Case.ResourcesAnswered,
    Case.ResourceStatusReported,
))


def _until(events: list[CaseEvent], happened: datetime | None) -> list[CaseEvent]:
    return events if happened is None else [e for e in events if happened_at(e) <= happened]


def scoped_events(rows: list, decoder: EventDecoder, scope: Scope, in_scope: set[str],
                  happened: datetime | None = None) -> tuple[list[CaseEvent], set[UUID]]:
    """The events of the cases in scope (`in_scope`: their ids in hex, as checkpoints key them; and
    those an event brings in), decoded, those whose message time is after `happened` left out; and
    the ids of the cases brought in.

    An event of another case can only bring it in if its JSON holds the territory's code as a string
    (a placement's code is a JSON string; codes are ASCII, never escaped): events without it are not
    parsed at all."""
    keys = [r[1].hex for r in rows]
    if scope.oid is not None:
        first = [r for r, key in zip(rows, keys, strict=True) if key in in_scope or r[1] == scope.oid]
    else:
        needle = orjson.dumps(scope.code) if scope.code and scope.code.isascii() else None
        first = [r for r, key in zip(rows, keys, strict=True) if key in in_scope
                 or r[3] not in _NOT_PLACING and (needle is None or needle in decoder.unseal(bytes(r[4])))]
    decoded = _until(decoder.decode(r[:5] for r in first), happened)
    brought = {e.originator_id for e in decoded if e.originator_id.hex not in in_scope and scope.brings_in(e)}
    done = {r[0] for r in first}
    late = _until(decoder.decode(r[:5] for r in rows if r[1] in brought and r[0] not in done), happened)
    events = [e for e in decoded if e.originator_id in brought or e.originator_id.hex in in_scope] + late
    events.sort(key=lambda e: e.notification_id)
    return events, brought
