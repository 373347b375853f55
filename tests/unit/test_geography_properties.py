"""Property tests for the geography: round trips and robustness on arbitrary input."""

from __future__ import annotations

import math
import random

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.geography import get_geography
from domain.geography import METHODS, Level, Placement, territories_of

GEO = get_geography()
WITH_POLYGON = sorted(c for c in GEO.communes if GEO.has_polygon(c))

_settings = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_settings
@given(st.sampled_from(WITH_POLYGON), st.integers(0, 2**32))
def test_random_point_in_locates_back_to_its_commune(insee, seed):
    lat, lon = GEO.random_point_in(insee, random.Random(seed))
    assert GEO.locate(lat, lon) == insee
    assert GEO.locate_many([lat], [lon]) == [insee]
    p = GEO.resolve(insee, lat, lon)
    assert (p.insee, p.method, p.notes) == (insee, "insee", ())


def _coordinate():
    return st.one_of(
        st.none(),
        st.floats(allow_nan=True, allow_infinity=True),
        st.floats(-90, 90),
        st.integers(-(10**400), 10**400),
        st.sampled_from([10**5000, -(10**5000)]),  # str()/repr() of these raise
        st.text(max_size=10),
        st.booleans(),
    )


_codes = st.one_of(
    st.none(),
    st.text(max_size=12),
    st.from_regex(r"[0-9]{4,5}", fullmatch=True),
    st.sampled_from(["35580", "69382", "75056", "2A004", "56142", "35200"]),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
)


@_settings
@given(_codes, _coordinate(), _coordinate())
def test_resolve_never_raises_and_is_consistent(code, lat, lon):
    p = GEO.resolve(code, lat, lon)
    assert p.method in METHODS
    if p.insee is None:
        assert (p.method, p.departement, p.zone) == ("unresolved", None, None)
    else:
        assert p.method != "unresolved"
        assert p.departement == GEO.communes[p.insee].departement
        assert p.zone == GEO.departements[p.departement].zone
    if p.point is not None:
        assert all(math.isfinite(v) for v in p.point)
    assert Placement.from_dict(orjson.loads(orjson.dumps(p.as_dict()))) == p
    territories = territories_of(p)
    assert territories[-1] == (Level.NATIONAL, "FR")
    assert all(GEO.contains(outer, territories[0]) for outer in territories)


@_settings
@given(st.floats(41.0, 51.5), st.floats(-5.5, 10.0))
def test_resolve_from_point_agrees_with_locate(lat, lon):
    p = GEO.resolve(None, lat, lon)
    assert p.insee == GEO.locate(lat, lon)
    assert p.method in ("point", "nearest", "unresolved")
