"""Who is on duty at a moment (domain.on_duty): start included, end excluded, overlaps allowed, absolute
moments whatever the clock change; and who may set an organisation's schedule (domain.directory)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.geography import get_geography
from domain.directory import DirectoryError, Organisation, OrganisationKind, may_set_duty
from domain.geography import Level
from domain.local_time import PARIS, parse_local
from domain.on_duty import DutyPeriod, check_period, on_duty_at

# The days of 2026 when Paris changes its clocks, and an ordinary day.
SPRING, AUTUMN, ORDINARY = datetime(2026, 3, 29, tzinfo=UTC), datetime(2026, 10, 25, tzinfo=UTC), datetime(
    2026, 6, 10, tzinfo=UTC)
PEOPLE = ["p.maire", "p.adjointe", "p.dgs"]

around_changes = st.sampled_from([SPRING, AUTUMN, ORDINARY]).flatmap(
    lambda day: st.integers(-36 * 60, 36 * 60).map(lambda m: day + timedelta(minutes=m)))


@st.composite
def periods(draw: st.DrawFn) -> list[DutyPeriod]:
    out = []
    for n in range(draw(st.integers(0, 6))):
        start = draw(around_changes)
        length = timedelta(minutes=draw(st.integers(1, 30 * 60)))
        out.append(DutyPeriod(f"d{n}", "mairie.35126", draw(st.sampled_from(PEOPLE)), start, start + length))
    return out


@given(periods(), around_changes, st.randoms())
def test_on_duty_are_exactly_those_whose_period_holds_whatever_the_order(ps, at, rnd):
    expected = {p.person_id for p in ps if p.start.timestamp() <= at.timestamp() < p.end.timestamp()}
    found = on_duty_at(ps, at)
    assert set(found) == expected and len(found) == len(expected)
    shuffled = list(ps)
    rnd.shuffle(shuffled)
    assert on_duty_at(shuffled, at) == found
    # The same moment seen in Paris time is the same moment.
    assert on_duty_at(ps, at.astimezone(PARIS)) == found


@given(st.lists(around_changes, min_size=2, max_size=8, unique=True), around_changes)
def test_handovers_leave_exactly_one_person_on_duty_and_no_gap(instants, at):
    ts = sorted(instants)
    chain = [DutyPeriod(f"d{i}", "mairie.35126", f"p{i}", a, b) for i, (a, b) in enumerate(pairwise(ts))]
    for i, t in enumerate(ts[:-1]):
        assert on_duty_at(chain, t) == [f"p{i}"]  # at a handover, only the one who takes over
    assert on_duty_at(chain, ts[-1]) == []  # the end is excluded
    if ts[0] <= at < ts[-1]:
        assert len(on_duty_at(chain, at)) == 1
    else:
        assert on_duty_at(chain, at) == []


@pytest.mark.parametrize(("start", "end", "hours"), [
    ("2026-03-28T20:00", "2026-03-29T08:00", 11),  # the spring night is an hour shorter
    ("2026-10-24T20:00", "2026-10-25T08:00", 13),  # the autumn night an hour longer
    ("2026-06-09T20:00", "2026-06-10T08:00", 12),
])
def test_a_night_typed_in_paris_time_holds_through_the_clock_change(start, end, hours):
    a, b = parse_local(start, PARIS), parse_local(end, PARIS)
    assert b - a == timedelta(hours=hours)
    night = [DutyPeriod("n", "mairie.35126", "p.adjointe", a, b)]
    for minutes in range(0, hours * 60, 7):
        assert on_duty_at(night, a + timedelta(minutes=minutes)) == ["p.adjointe"]
    assert on_duty_at(night, b) == [] and on_duty_at(night, a - timedelta(seconds=1)) == []


@given(around_changes, around_changes)
def test_a_period_must_end_after_it_starts_and_stay_short(a, b):
    if a < b <= a + timedelta(days=62):
        check_period(a, b)
    else:
        with pytest.raises(DirectoryError):
            check_period(a, b)
    with pytest.raises(DirectoryError, match="trop longue"):
        check_period(a, a + timedelta(days=63))


def test_a_naive_moment_is_refused():
    with pytest.raises(ValueError):
        on_duty_at([], datetime(2026, 3, 29, 2, 30))
    with pytest.raises(DirectoryError):
        check_period(datetime(2026, 3, 29), datetime(2026, 3, 30))


def test_who_sets_a_schedule_its_own_people_and_its_parent_authority():
    geo = get_geography()
    guichen = Organisation("mairie.35126", OrganisationKind.MAIRIE, "Mairie de Guichen", Level.COMMUNE, "35126")
    assert may_set_duty("mayor", Level.COMMUNE, "35126", "mairie.35126", guichen, geo)
    assert not may_set_duty("mayor", Level.COMMUNE, "35238", "mairie.35238", guichen, geo)  # Rennes' mayor
    assert not may_set_duty("analyst", Level.COMMUNE, "35126", "mairie.35126", guichen, geo)
    assert may_set_duty("prefecture", Level.DEPARTEMENT, "35", "prefecture.35", guichen, geo)
    assert not may_set_duty("prefecture", Level.DEPARTEMENT, "44", "prefecture.44", guichen, geo)
    assert not may_set_duty("sdis", Level.DEPARTEMENT, "35", "sdis.35", guichen, geo)
    assert may_set_duty("admin", Level.NATIONAL, "FR", "cogic.FR", guichen, geo)
    prefecture = Organisation("prefecture.35", OrganisationKind.PREFECTURE, "Préfecture", Level.DEPARTEMENT, "35")
    assert may_set_duty("prefecture", Level.DEPARTEMENT, "35", "prefecture.35", prefecture, geo)
    assert may_set_duty("zone", Level.ZONE, "ouest", "coz.ouest", prefecture, geo)
    assert not may_set_duty("mayor", Level.COMMUNE, "35126", "mairie.35126", prefecture, geo)
