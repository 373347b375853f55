"""Simulated time: epoch seconds internally, French local time with its offset on the wire.

CISU timestamps must carry an explicit offset and no fraction of a second
(``2025-11-02T18:04:00+01:00``). Formatting goes through a per-hour offset cache, so a crisis
spanning a daylight-saving change still gets the right offsets, at the cost of a dict lookup.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

PARIS = ZoneInfo("Europe/Paris")


class LocalClock:
    __slots__ = ("_offsets", "_zones", "_minutes")

    def __init__(self) -> None:
        self._offsets: dict[int, tuple[int, str]] = {}
        self._zones: dict[int, timezone] = {}
        self._minutes: dict[int, tuple[str, str]] = {}  # minute -> ("YYYY-MM-DDTHH:MM:", "+HH:MM")

    def _offset(self, ts: int) -> tuple[int, str]:
        hour = ts // 3600
        found = self._offsets.get(hour)
        if found is None:
            delta = datetime.fromtimestamp(hour * 3600, PARIS).utcoffset() or timedelta(0)
            seconds = int(delta.total_seconds())
            sign = "+" if seconds >= 0 else "-"
            hours, minutes = divmod(abs(seconds) // 60, 60)
            found = (seconds, f"{sign}{hours:02d}:{minutes:02d}")
            self._offsets[hour] = found
        return found

    def iso(self, ts: float) -> str:
        """``YYYY-MM-DDTHH:MM:SS+HH:MM`` in French local time."""
        seconds = int(ts)
        minute, second = divmod(seconds, 60)
        found = self._minutes.get(minute)
        if found is None:
            if len(self._minutes) > 100_000:  # a crisis is at most a few thousand minutes: never in practice
                self._minutes.clear()
            offset, suffix = self._offset(seconds)
            found = (time.strftime("%Y-%m-%dT%H:%M:", time.gmtime(minute * 60 + offset)), suffix)
            self._minutes[minute] = found
        return f"{found[0]}{second:02d}{found[1]}"

    def datetime(self, ts: float) -> datetime:
        """Aware datetime (French local offset) of the same whole second as :meth:`iso`."""
        seconds = int(ts)
        offset, _ = self._offset(seconds)
        zone = self._zones.get(offset)
        if zone is None:
            zone = self._zones[offset] = timezone(timedelta(seconds=offset))
        return datetime.fromtimestamp(seconds, zone)

    def compact_date(self, ts: float, fmt: str = "%Y%m%d") -> str:
        seconds = int(ts)
        offset, _ = self._offset(seconds)
        return time.strftime(fmt, time.gmtime(seconds + offset))


def to_epoch(value: datetime | str) -> float:
    """Epoch seconds of a datetime; a naive one (or ISO text without offset) is French local time."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=PARIS)
    return value.astimezone(UTC).timestamp()
