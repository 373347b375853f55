"""The registry of views: one declaration per view, and what people may type to name them."""

from __future__ import annotations

import pytest

from domain.geography import Level
from projections.registry import BY_LEVEL, CASE_LIST, NAMES, VIEWS, ZONES, UnknownView, select


def test_every_level_has_one_view_and_the_case_list_has_none():
    assert set(BY_LEVEL) == set(Level)
    assert [v for v in VIEWS if v.is_case_list] == [CASE_LIST]
    assert len(set(NAMES)) == len(VIEWS)
    assert len({v.table() for v in VIEWS} | {v.table(shadow=True) for v in VIEWS}) == 2 * len(VIEWS)


def test_a_rebuild_has_its_own_table_and_tracking_row():
    assert (ZONES.table(), ZONES.table(shadow=True)) == ("tocsin_view_zone", "tocsin_view_zone_rebuild")
    assert (ZONES.tracking(), ZONES.tracking(shadow=True)) == ("zone", "zone@rebuild")


def test_select_keeps_the_registry_order_and_knows_all():
    assert select(["national", "cases"]) == [CASE_LIST, BY_LEVEL[Level.NATIONAL]]
    assert select(["tout"]) == list(VIEWS) == select(["zone", "all"])
    with pytest.raises(UnknownView, match="region"):
        select(["region"])
