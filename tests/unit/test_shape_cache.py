"""The polygons' binary cache gives what parsing the GeoJSON gives, and never stands in the way."""

from __future__ import annotations

import logging

import shapely

from adapters.geography import DATA_DIR, _parse_shapes, _read_shapes

SOURCE = DATA_DIR / "departements.geojson.gz"


def same(a: dict, b: dict) -> bool:
    return list(a) == list(b) and all(shapely.to_wkb(a[c]) == shapely.to_wkb(b[c]) for c in a)


def test_the_cache_is_written_once_then_read_and_gives_the_same_shapes(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    parsed = _parse_shapes(SOURCE)
    first = _read_shapes(SOURCE, cache)
    [written] = list(cache.iterdir())
    assert same(first, parsed)
    monkeypatch.setattr("adapters.geography._parse_shapes", None)  # the source is no longer parsed
    assert same(_read_shapes(SOURCE, cache), parsed)
    assert list(cache.iterdir()) == [written]


def test_a_damaged_cache_is_ignored_and_rewritten(tmp_path, caplog):
    _read_shapes(SOURCE, tmp_path)
    [written] = list(tmp_path.iterdir())
    written.write_bytes(b"not an archive")
    with caplog.at_level(logging.WARNING, logger="adapters.shape_cache"):
        assert same(_read_shapes(SOURCE, tmp_path), _parse_shapes(SOURCE))
    assert "unreadable" in caplog.text
    assert same(_read_shapes(SOURCE, tmp_path), _parse_shapes(SOURCE))


def test_an_unwritable_cache_directory_only_costs_the_parse(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    unwritable = blocker / "cache"  # under a file: cannot be created
    assert same(_read_shapes(SOURCE, unwritable), _parse_shapes(SOURCE))
