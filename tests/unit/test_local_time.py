"""Times as people read and type them: in the territory's own zone, the zone stated (issue #22, item 6)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.geography import Level
from domain.local_time import (
    BadTime,
    format_local,
    parse_local,
    zone_of,
)

PARIS = ZoneInfo("Europe/Paris")
ZONES = st.sampled_from([PARIS, ZoneInfo("America/Guadeloupe"), ZoneInfo("America/Cayenne"),
                         ZoneInfo("Indian/Reunion"), ZoneInfo("Indian/Mayotte"), ZoneInfo("Pacific/Noumea")])
moments = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 1, 1), timezones=st.just(UTC))


@pytest.mark.parametrize(("level", "code", "zone"), [
    (Level.COMMUNE, "35238", "Europe/Paris"), (Level.DEPARTEMENT, "2A", "Europe/Paris"),
    (Level.DEPARTEMENT, "971", "America/Guadeloupe"), (Level.DEPARTEMENT, "972", "America/Martinique"),
    (Level.DEPARTEMENT, "973", "America/Cayenne"), (Level.DEPARTEMENT, "974", "Indian/Reunion"),
    (Level.DEPARTEMENT, "976", "Indian/Mayotte"), (Level.COMMUNE, "97411", "Indian/Reunion"),
    (Level.COMMUNE, "97209", "America/Martinique"), (Level.DEPARTEMENT, "975", "America/Miquelon"),
    (Level.DEPARTEMENT, "988", "Pacific/Noumea"), (Level.DEPARTEMENT, "987", "Pacific/Tahiti"),
    (Level.ZONE, "ouest", "Europe/Paris"), (Level.ZONE, "guyane", "America/Cayenne"),
    (Level.ZONE, "ocean-indien", "Indian/Reunion"), (Level.NATIONAL, "FR", "Europe/Paris"),
])
def test_each_territory_reads_times_in_its_own_zone(level, code, zone):
    assert zone_of(level, code).key == zone


def test_a_case_opened_at_18_15_in_paris_is_shown_at_18_15_with_its_zone_whatever_the_machine():
    opened = datetime(2026, 12, 7, 17, 15, tzinfo=UTC)
    assert format_local(opened, PARIS) == "07/12/2026 18:15 (heure de Paris)"
    assert format_local(opened, ZoneInfo("America/Cayenne")) == "07/12/2026 14:15 (heure de Guyane)"
    assert format_local(opened, PARIS, seconds=True) == "07/12/2026 18:15:00 (heure de Paris)"
    assert format_local(None, PARIS) == "jamais"


def test_a_time_without_offset_is_read_in_the_territorys_zone_and_one_with_an_offset_as_given():
    today = date(2026, 12, 7)
    assert parse_local("10:00", PARIS, today=today) == datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
    assert parse_local("2026-07-01T10:00", PARIS) == datetime(2026, 7, 1, 8, 0, tzinfo=UTC)
    assert parse_local("2026-07-01 10:00", ZoneInfo("Indian/Reunion")) == datetime(2026, 7, 1, 6, 0, tzinfo=UTC)
    assert parse_local("2026-07-01T10:00+00:00", PARIS) == datetime(2026, 7, 1, 10, 0, tzinfo=UTC)
    assert parse_local("2026-07-01T10:00Z", PARIS) == datetime(2026, 7, 1, 10, 0, tzinfo=UTC)
    reunion = ZoneInfo("Indian/Reunion")
    assert parse_local("10:00+01:00", reunion, today=today) == datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
    with pytest.raises(BadTime, match="heure invalide"):
        parse_local("demain", PARIS)


@given(moments, ZONES)
def test_what_is_shown_in_a_zone_is_read_back_as_the_same_moment(moment, zone):
    moment = moment.replace(second=0, microsecond=0)
    shown = format_local(moment, zone)
    wall, _, stated = shown.partition(" (")
    assert stated.startswith("heure ")
    local = datetime.strptime(wall, "%d/%m/%Y %H:%M").replace(tzinfo=zone)
    back = parse_local(local.strftime("%Y-%m-%dT%H:%M"), zone)
    # The one hour a year that happens twice (autumn change) may read as its first occurrence.
    assert back == moment or (back.astimezone(zone).replace(tzinfo=None) == local.replace(tzinfo=None)
                              and abs(back - moment) == timedelta(hours=1))


@given(moments, ZONES, st.integers(-12 * 60, 14 * 60))
def test_an_offset_typed_wins_over_the_zone(moment, zone, minutes):
    offset = timezone(timedelta(minutes=minutes))
    typed = moment.astimezone(offset).replace(microsecond=0)
    assert parse_local(typed.isoformat(), zone) == typed
