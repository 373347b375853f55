"""A crisis timeline for a territory and a time window: what happened, interval by interval.

Times are the messages' own (the "happened at" time of replay/event_log.py): an after-action review asks
what happened when, not when the platform learned it. The views as of the window's start come from
the best checkpoint (replay/checkpoints); the window's events are then folded in order of message
time, and at each interval boundary the territory's figures are read: so each boundary shows exactly
the view `tocsin replay view … --happened-by --at BOUNDARY` would (the case fold is order-tolerant,
and each boundary's batch is folded in notification order like the as-of fold).

Per interval: cases opened and closed (by the cases' own opening and closing times), and at its end
the active cases, victims by triage category, evacuated people, resources engaged. Per case opened in
the window: the delay from its creation to its first resource engaged and to its first resource on
scene (a resource status of phase "sur-les-lieux" or "transport", domain.nature.ResourcePhase; when
the arrival status itself was never sent, the first later status bounds it from above). Peaks: the
largest of each series and when.
"""

from __future__ import annotations

import re
import statistics
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from psycopg.sql import SQL

from adapters.store.codec import EventDecoder
from domain.case_state import parse_time
from domain.geography import NATIONAL, Level
from domain.local_time import zone_of
from domain.nature import ResourcePhase
from projections.case_list import UNPLACED
from projections.memory import MemoryViews
from replay.as_of import views_as_of
from replay.checkpoints.scan import snapshot_connection
from replay.event_log import HAPPENED_BY, happened_at_sql
from replay.scope import Scope, scoped_events

ARRIVED = frozenset({ResourcePhase.ON_SCENE.value, ResourcePhase.TRANSPORT.value})
TRIAGE = ("red", "yellow", "green", "black")
MAX_INTERVALS = 2000

_WINDOW_EVENTS = """
SELECT e.notification_id, e.originator_id, e.originator_version, e.topic, e.state,
       {happened} AS happened
FROM {events} e
LEFT JOIN {messages} m ON m.originator_id = e.originator_id AND m.originator_version = e.originator_version
LEFT JOIN {chain} c ON c.notification_id = e.notification_id
WHERE {happened} > %(start)s
  AND {happened} <= %(end)s
ORDER BY happened, e.notification_id
"""


@dataclass
class Interval:
    start: datetime
    end: datetime
    opened: int = 0  # cases opened during the interval
    closed: int = 0  # cases closed during the interval
    active: int = 0  # at the interval's end, as are the figures below
    victims: int = 0  # red + yellow + green + black
    red: int = 0
    yellow: int = 0
    green: int = 0
    black: int = 0
    evacuated: int = 0
    displaced: int = 0
    resources_engaged: int = 0
    resources_total: int = 0


@dataclass
class CaseDelay:
    case_id: str
    nature_code: str | None
    commune: str
    opened_at: datetime
    first_engaged_at: datetime | None
    first_on_scene_at: datetime | None

    @property
    def to_engaged_min(self) -> float | None:
        return _minutes(self.opened_at, self.first_engaged_at)

    @property
    def to_on_scene_min(self) -> float | None:
        return _minutes(self.opened_at, self.first_on_scene_at)

    def as_dict(self) -> dict:
        return {**asdict(self), "to_engaged_min": self.to_engaged_min, "to_on_scene_min": self.to_on_scene_min}


@dataclass
class Timeline:
    level: str
    code: str
    start: datetime
    end: datetime
    interval: timedelta
    intervals: list[Interval] = field(default_factory=list)
    delays: list[CaseDelay] = field(default_factory=list)
    events: int = 0  # events of the window folded
    requested_end: datetime | None = None  # the end asked for, when it was past the reading time

    @property
    def zone(self) -> ZoneInfo:
        """The zone its times are read in (the territory's)."""
        return zone_of(self.level, self.code)

    @property
    def peaks(self) -> dict[str, dict]:
        """For each series, its largest value and the end of the interval where it was reached first."""
        out = {}
        for key in ("opened", "closed", "active", "victims", "evacuated", "resources_engaged"):
            best = max(self.intervals, key=lambda i: getattr(i, key), default=None)
            if best is not None:
                out[key] = {"value": getattr(best, key), "start": best.start, "end": best.end}
        return out

    @property
    def summary(self) -> dict[str, Any]:
        last = self.intervals[-1] if self.intervals else Interval(self.start, self.end)
        engaged = [d.to_engaged_min for d in self.delays if d.to_engaged_min is not None]
        on_scene = [d.to_on_scene_min for d in self.delays if d.to_on_scene_min is not None]
        return {
            "cases_opened": sum(i.opened for i in self.intervals),
            "cases_closed": sum(i.closed for i in self.intervals),
            "active_at_end": last.active,
            "victims_at_end": last.victims,
            "evacuated_at_end": last.evacuated,
            "delay_to_engaged_min": _stats(engaged),
            "delay_to_on_scene_min": _stats(on_scene),
        }

    def as_dict(self) -> dict:
        return {
            "territory": f"{self.level}:{self.code}", "level": self.level, "code": self.code,
            "from": self._iso(self.start), "to": self._iso(self.end),
            "requested_to": self._iso(self.requested_end or self.end), "time_zone": self.zone.key,
            "interval_minutes": self.interval.total_seconds() / 60, "events": self.events,
            "summary": self.summary,
            "peaks": {k: {**v, "start": self._iso(v["start"]), "end": self._iso(v["end"])}
                      for k, v in self.peaks.items()},
            "intervals": [{**asdict(i), "start": self._iso(i.start), "end": self._iso(i.end)}
                          for i in self.intervals],
            "delays": [{**d.as_dict(), **{k: self._iso(getattr(d, k)) for k in
                                          ("opened_at", "first_engaged_at", "first_on_scene_at")}}
                       for d in self.delays],
        }


    def _iso(self, value: datetime | None) -> str | None:
        """ISO 8601 in the territory's zone (its offset written), as every time a person reads."""
        return value.astimezone(self.zone).isoformat() if value else None


def parse_interval(value: str | None, start: datetime, end: datetime) -> timedelta:
    """'15min', '15m', '2h', '1j'/'1d', or a number of minutes; None: about 24 to 48 intervals."""
    if value is None:
        span = end - start
        for step in (timedelta(minutes=m) for m in (5, 10, 15, 30, 60, 120, 180, 360, 720, 1440)):
            if span / step <= 48:
                return step
        return timedelta(days=max(1, round(span / timedelta(days=48))))
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(min|mn|m|h|j|d)?\s*", value.lower())
    if not match or float(match[1]) <= 0:
        raise ValueError(f"intervalle invalide : {value} (ex. 15min, 1h, 1j)")
    unit = {"min": 1, "mn": 1, "m": 1, None: 1, "h": 60, "j": 1440, "d": 1440}[match[2]]
    return timedelta(minutes=float(match[1]) * unit)


def build_timeline(store: Any, level: Level | str, code: str, start: datetime, end: datetime,
                   interval: timedelta | None = None, *, now: datetime | None = None) -> Timeline:
    """The window's figures, interval by interval. A window that reaches past `now` (the wall clock by
    default) stops at `now`: what has not happened yet is not a flat copy of the present."""
    level = Level(level)
    code = NATIONAL if level == Level.NATIONAL else code
    if end <= start:
        raise ValueError("la fin de la fenêtre doit suivre son début")
    now = now or datetime.now(UTC)
    if start >= now:
        raise ValueError("la fenêtre commence dans le futur : rien ne s'y est encore passé")
    requested_end = end
    end = min(end, now)
    interval = interval or parse_interval(None, start, end)
    if (end - start) / interval > MAX_INTERVALS:
        raise ValueError(f"trop d'intervalles (plus de {MAX_INTERVALS}) : choisissez un intervalle plus long")
    views = views_as_of(store, start, HAPPENED_BY).views
    timeline = Timeline(level.value, code, start, end, interval, requested_end=requested_end)
    tracks: dict[Any, dict[str, datetime]] = {}
    events = _window_events(store, views, level, code, start, end)
    timeline.events = len(events)
    boundary, cursor = start, 0
    while boundary < end:
        following = min(boundary + interval, end)
        batch = []
        while cursor < len(events) and events[cursor][1] <= following:
            batch.append(events[cursor][0])
            cursor += 1
        batch.sort(key=lambda e: e.notification_id)
        views.process(batch)
        for event in batch:
            _track_resources(tracks, event)
        timeline.intervals.append(_read(views, level, code, boundary, following))
        boundary = following
    _count_cases(timeline, views, level, code, tracks)
    return timeline


def _window_events(store: Any, views: MemoryViews, level: Level, code: str, start: datetime,
                   end: datetime) -> list[tuple[Any, datetime]]:
    """(case event, message time) of the window, in message-time order: for a territory, only the events
    of its cases (those in it at the start, and those an event of the window brings in), the only ones
    that change its figures. `views` holds every case at the start, so a case brought in has its state."""
    query = SQL(_WINDOW_EVENTS).format(events=store.table("tocsin_events"), messages=store.table("tocsin_messages"),
                                       chain=store.table("tocsin_chain"), happened=happened_at_sql("m", "c"))
    with snapshot_connection(store) as conn, conn.transaction():
        rows = conn.cursor(binary=True).execute(query, {"start": start, "end": end}).fetchall()
    decoder = EventDecoder(store.mapper)
    key = {Level.COMMUNE: "commune", Level.DEPARTEMENT: "departement", Level.ZONE: "zone"}.get(level)
    if key is None or code == UNPLACED:
        events = decoder.decode(r[:5] for r in rows)
    else:
        in_scope = {oid.hex for oid, row in views.cases.items() if row[key] == code}
        events, _ = scoped_events(rows, decoder, Scope(level, code), in_scope)
    happened = {r[0]: r[5] for r in rows}
    return sorted(((e, happened[e.notification_id]) for e in events), key=lambda p: (p[1], p[0].notification_id))


def _track_resources(tracks: dict, event: Any) -> None:
    """The first engagement and the first arrival on scene of any resource of the case."""
    resources = event.facts.get("resources") if isinstance(event.facts, dict) else None
    if not resources:
        return
    track = tracks.setdefault(event.originator_id, {})
    for resource in resources:
        engaged = parse_time(resource.get("engaged_at")) or parse_time(resource.get("status_at"))
        _earliest(track, "engaged", engaged)
        if resource.get("phase") in ARRIVED:
            _earliest(track, "on_scene", parse_time(resource.get("status_at")) or engaged)


def _earliest(track: dict, key: str, value: datetime | None) -> None:
    if value is not None and (key not in track or value < track[key]):
        track[key] = value


def _read(views: MemoryViews, level: Level, code: str, start: datetime, end: datetime) -> Interval:
    row = views.territories[level].get(code)
    figures = row.figures if row else {}
    interval = Interval(start, end, active=figures.get("cases:active", 0),
                        evacuated=figures.get("evacuation:evacuated", 0),
                        displaced=figures.get("evacuation:displaced", 0),
                        resources_engaged=figures.get("resources:engaged", 0),
                        resources_total=figures.get("resources:total", 0))
    for key in TRIAGE:
        setattr(interval, key, figures.get(f"triage:{key}", 0))
    interval.victims = sum(getattr(interval, key) for key in TRIAGE)
    return interval


def _count_cases(timeline: Timeline, views: MemoryViews, level: Level, code: str, tracks: dict) -> None:
    """Cases opened and closed per interval, and the delays of the cases opened in the window: for the
    cases in the territory at the window's end (where the case list shows them)."""
    key = {Level.COMMUNE: "commune", Level.DEPARTEMENT: "departement", Level.ZONE: "zone"}.get(level)
    step = timeline.interval
    for oid, row in views.cases.items():
        if key is not None and row[key] != code:
            continue
        for field_name, counter in (("opened_at", "opened"), ("closed_at", "closed")):
            at = row[field_name]
            if at is not None and timeline.start <= at < timeline.end:
                index = min(int((at - timeline.start) / step), len(timeline.intervals) - 1)
                setattr(timeline.intervals[index], counter, getattr(timeline.intervals[index], counter) + 1)
        opened = row["opened_at"]
        if opened is not None and timeline.start <= opened < timeline.end:
            track = tracks.get(oid, {})
            timeline.delays.append(CaseDelay(row["case_id"], row["nature_code"], row["commune"], opened,
                                             track.get("engaged"), track.get("on_scene")))
    timeline.delays.sort(key=lambda d: (d.opened_at, d.case_id))


def _minutes(start: datetime, end: datetime | None) -> float | None:
    return None if end is None else round((end - start).total_seconds() / 60, 1)


def _stats(values: list[float]) -> dict[str, Any]:
    if not values:
        return {"cases": 0, "median": None, "p90": None, "mean": None, "max": None}
    ordered = sorted(values)
    return {"cases": len(values), "median": round(statistics.median(ordered), 1),
            "p90": round(ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))], 1),
            "mean": round(statistics.fmean(ordered), 1), "max": round(ordered[-1], 1)}

