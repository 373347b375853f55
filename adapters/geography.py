"""The reference geography (adapters/reference/geo, see SOURCES.md there) and its spatial index.

`Geography` loads the CSVs eagerly (tenths of a second) and the commune polygons with their STRtree
lazily, on the first spatial call (about two seconds), under a lock so concurrent first calls load
once. After loading everything is read-only, so one instance is shared by all threads: use
`get_geography()`.

Locating a point: the commune polygons were simplified one by one (about 100 m), so neighbours
overlap in thin slivers (0.2 % of the area) and leave thin gaps. In a sliver the point goes to the
commune it is deepest inside (farthest from that commune's edge); in a gap, or just off the coast,
to the nearest commune within 5 km. Distances are metres on the sphere, measured to the point of the
polygon nearest in degrees (a slight over-estimate, fine for notes and a 5 km threshold).
"""

from __future__ import annotations

import csv
import gzip
import random
import re
import threading
import unicodedata
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import shapely
from shapely import STRtree

from adapters.shape_cache import cached_shapes
from domain.geography import (
    NATIONAL,
    NEAREST_MAX_M,
    Commune,
    Departement,
    Level,
    Placement,
    Zone,
    arrondissement_commune,
    resolve_placement,
)

DATA_DIR = Path(__file__).parent / "reference" / "geo"

_EARTH_RADIUS_M = 6_371_008.8
_M_PER_DEGREE = 2 * np.pi * _EARTH_RADIUS_M / 360
_LEVEL_RANK = {Level.NATIONAL: 0, Level.ZONE: 1, Level.DEPARTEMENT: 2, Level.COMMUNE: 3}


@dataclass(frozen=True)
class _Spatial:
    codes: np.ndarray  # object array of INSEE codes, with a trailing None (index -1 -> None)
    geoms: np.ndarray  # shapely geometries, prepared, same order as codes[:-1]
    tree: STRtree
    position: dict[str, int]


class Geography:
    """Communes, départements and zones, with the spatial queries the platform needs."""

    def __init__(self, data_dir: Path | str = DATA_DIR, cache_dir: Path | None = None) -> None:
        self.data_dir = Path(data_dir)
        self.cache_dir = cache_dir  # the polygons' binary cache (Settings.cache_dir); None: parsed each time
        self.zones: dict[str, Zone] = _read_zones(self.data_dir / "zones.csv")
        # Read-only once loaded (Mapping, as domain.geography.Directory asks).
        self.departements: Mapping[str, Departement] = _read_departements(self.data_dir / "departements.csv")
        self.communes: Mapping[str, Commune] = _read_communes(self.data_dir / "communes.csv")

        postal: dict[str, list[str]] = {}
        by_dep: dict[str, list[str]] = {}
        for c in self.communes.values():
            for p in c.postal_codes:
                postal.setdefault(p, []).append(c.insee)
            by_dep.setdefault(c.departement, []).append(c.insee)
        self._postal = {p: tuple(sorted(v)) for p, v in postal.items()}
        self._communes_of = {d: sorted(v) for d, v in by_dep.items()}
        self._departements_of: dict[str, list[str]] = {}
        self._zoneless: list[str] = []
        for d in sorted(self.departements.values(), key=lambda d: d.code):
            if d.zone is None:
                self._zoneless.append(d.code)
            else:
                self._departements_of.setdefault(d.zone, []).append(d.code)

        self._lock = threading.Lock()
        self._spatial: _Spatial | None = None
        self._shapes: dict[Level, dict[str, Any]] = {}
        self._national_shape: Any = None
        self._search_index: list[tuple[str, Level, str, int]] | None = None

    # ---- directory (domain.geography.Directory) ----------------------------------------------

    def communes_by_postal_code(self, postal_code: str) -> tuple[str, ...]:
        return self._postal.get(postal_code, ())

    def distance_m(self, insee: str, lat: float, lon: float) -> float | None:
        sp = self._index()
        pos = sp.position.get(insee)
        if pos is None:
            return None
        geom = sp.geoms[pos]
        if shapely.intersects_xy(geom, lon, lat):
            return 0.0
        line = shapely.shortest_line(shapely.Point(lon, lat), geom)
        (lon1, lat1), (lon2, lat2) = shapely.get_coordinates(line)
        return float(_haversine(lat1, lon1, lat2, lon2))

    # ---- resolution ----------------------------------------------------------------------------

    def resolve(self, insee_code: Any, lat: Any, lon: Any) -> Placement:
        """Place a case from a message's commune code and point; never raises on bad input."""
        point = None if lat is None and lon is None else (lat, lon)
        return resolve_placement(insee_code, point, directory=self, locate=self._locate_with_method)

    def locate(self, lat: float, lon: float) -> str | None:
        """INSEE code of the commune containing the point, else nearest within 5 km, else None."""
        found = self._locate_with_method(lat, lon)
        return found[0] if found else None

    def locate_many(self, lats: Sequence[float], lons: Sequence[float]) -> list[str | None]:
        """`locate` for many points at once (vectorised: use it for batches)."""
        idx, _ = self._locate_indices(lats, lons)
        return self._index().codes[idx].tolist()

    def _locate_with_method(self, lat: float, lon: float) -> tuple[str, str] | None:
        sp = self._index()
        try:
            lat, lon = float(lat), float(lon)
        except (TypeError, ValueError):
            return None
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):  # also rejects NaN
            return None
        # Fast path: the point is in exactly one polygon (almost always).
        hits = sp.tree.query(shapely.Point(lon, lat), predicate="intersects")
        if len(hits) == 1:
            return sp.codes[hits[0]], "point"
        idx, nearest = self._locate_indices([lat], [lon])
        if idx[0] < 0:
            return None
        return sp.codes[idx[0]], "nearest" if nearest[0] else "point"

    def _locate_indices(self, lats: Any, lons: Any) -> tuple[np.ndarray, np.ndarray]:
        """Per point: index into the polygons (-1: none) and whether it came from the 5 km fallback."""
        sp = self._index()
        lat = np.asarray(lats, dtype=float).ravel()
        lon = np.asarray(lons, dtype=float).ravel()
        if lat.shape != lon.shape:
            raise ValueError("lats and lons must have the same length")
        idx = np.full(lat.size, -1, dtype=np.intp)
        nearest = np.zeros(lat.size, dtype=bool)
        with np.errstate(invalid="ignore"):
            valid = (np.abs(lat) <= 90) & (np.abs(lon) <= 180)  # False for NaN
        vi = np.flatnonzero(valid)
        if vi.size == 0:
            return idx, nearest
        pts = shapely.points(lon[vi], lat[vi])
        inp, tr = sp.tree.query(pts, predicate="intersects")
        if inp.size:
            counts = np.bincount(inp, minlength=vi.size)
            multi = counts[inp] > 1
            idx[vi[inp[~multi]]] = tr[~multi]
            if multi.any():
                # Sliver between two simplified neighbours: deepest inside wins, ties to the lower index.
                mi, mt = inp[multi], tr[multi]
                depth = shapely.distance(pts[mi], shapely.boundary(sp.geoms[mt]))
                order = np.lexsort((mt, -depth, mi))
                mi, mt = mi[order], mt[order]
                first = np.r_[True, mi[1:] != mi[:-1]]
                idx[vi[mi[first]]] = mt[first]
        missing = vi[idx[vi] < 0]
        if missing.size:
            found, _ = self._nearest(lat[missing], lon[missing])
            idx[missing] = found
            nearest[missing] = found >= 0
        return idx, nearest

    def _nearest(self, lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Nearest polygon within NEAREST_MAX_M of each point: (index or -1, metres or inf)."""
        sp = self._index()
        found = np.full(lat.size, -1, dtype=np.intp)
        metres = np.full(lat.size, np.inf)
        pts = shapely.points(lon, lat)
        # A degree radius that covers NEAREST_MAX_M in every direction (longitude degrees shrink).
        cos = np.maximum(np.cos(np.radians(np.minimum(np.abs(lat) + 0.1, 90.0))), 0.01)
        radius = NEAREST_MAX_M / (_M_PER_DEGREE * cos)
        inp, tr = sp.tree.query(pts, predicate="dwithin", distance=radius)
        if inp.size == 0:
            return found, metres
        ends = shapely.get_coordinates(shapely.shortest_line(pts[inp], sp.geoms[tr])).reshape(-1, 2, 2)
        d = _haversine(ends[:, 0, 1], ends[:, 0, 0], ends[:, 1, 1], ends[:, 1, 0])
        keep = d <= NEAREST_MAX_M
        inp, tr, d = inp[keep], tr[keep], d[keep]
        if inp.size:
            order = np.lexsort((tr, d, inp))
            inp, tr, d = inp[order], tr[order], d[order]
            first = np.r_[True, inp[1:] != inp[:-1]]
            found[inp[first]] = tr[first]
            metres[inp[first]] = d[first]
        return found, metres

    # ---- simulation and map -----------------------------------------------------------------

    def has_polygon(self, insee: str) -> bool:
        return insee in self._index().position

    def random_point_in(self, insee: str, rng: random.Random) -> tuple[float, float]:
        """(lat, lon) strictly inside the commune's polygon, which `locate` maps back to it.

        Raises KeyError for an unknown commune, ValueError for one without a polygon (the Pacific
        collectivities, Clipperton, a few communes re-created since 2018: see SOURCES.md).
        """
        if insee not in self.communes:
            raise KeyError(insee)
        sp = self._index()
        pos = sp.position.get(insee)
        if pos is None:
            raise ValueError(f"commune {insee} has no polygon")
        geom = sp.geoms[pos]
        parts = shapely.get_parts(geom)
        areas = shapely.area(parts).tolist()
        for _ in range(2_000):
            # Pick a part by area first: archipelago communes have a mostly empty bounding box.
            part = parts[rng.choices(range(len(parts)), weights=areas)[0]] if len(parts) > 1 else parts[0]
            minx, miny, maxx, maxy = part.bounds
            lon, lat = rng.uniform(minx, maxx), rng.uniform(miny, maxy)
            # Strictly inside, and not in a sliver a neighbour wins, so that locate() agrees.
            if shapely.contains_xy(geom, lon, lat) and self.locate(lat, lon) == insee:
                return lat, lon
        point = shapely.point_on_surface(geom)  # pragma: no cover - tiny communes covered by slivers
        return point.y, point.x

    def boundary(self, level: Level | str, code: str) -> dict | None:
        """GeoJSON geometry of a territory, or None when unknown or without polygon."""
        level = Level(level)
        geom: Any = None
        if level is Level.COMMUNE:
            sp = self._index()
            pos = sp.position.get(code)
            geom = sp.geoms[pos] if pos is not None else None
        elif level in (Level.DEPARTEMENT, Level.ZONE):
            geom = self._shapes_of(level).get(code)
        elif code == NATIONAL:
            geom = self._national()
        return orjson.loads(shapely.to_geojson(geom)) if geom is not None else None

    # ---- hierarchy ---------------------------------------------------------------------------

    def children(self, level: Level | str, code: str) -> list[tuple[Level, str]]:
        """National → zones (and the départements in no zone), zone → départements, département → communes."""
        level = Level(level)
        if level is Level.NATIONAL:
            if code != NATIONAL:
                return []
            return [(Level.ZONE, z) for z in self.zones] + [(Level.DEPARTEMENT, d) for d in self._zoneless]
        if level is Level.ZONE:
            return [(Level.DEPARTEMENT, d) for d in self._departements_of.get(code, [])]
        if level is Level.DEPARTEMENT:
            return [(Level.COMMUNE, c) for c in self._communes_of.get(code, [])]
        return []

    def parent(self, level: Level | str, code: str) -> tuple[Level, str] | None:
        level = Level(level)
        if level is Level.COMMUNE:
            commune = self.communes.get(code)
            return (Level.DEPARTEMENT, commune.departement) if commune else None
        if level is Level.DEPARTEMENT:
            dep = self.departements.get(code)
            if dep is None:
                return None
            return (Level.ZONE, dep.zone) if dep.zone else (Level.NATIONAL, NATIONAL)
        if level is Level.ZONE:
            return (Level.NATIONAL, NATIONAL) if code in self.zones else None
        return None

    def exists(self, level: Level | str, code: str) -> bool:
        level = Level(level)
        tables: dict[Level, Collection[str]] = {
            Level.COMMUNE: self.communes,
            Level.DEPARTEMENT: self.departements,
            Level.ZONE: self.zones,
            Level.NATIONAL: {NATIONAL: None},
        }
        return code in tables[level]

    def contains(self, outer: tuple[Level | str, str], inner: tuple[Level | str, str]) -> bool:
        """Is `inner` inside `outer` (or the same territory)? False for unknown territories."""
        try:
            o = (Level(outer[0]), outer[1])
            i = (Level(inner[0]), inner[1])
        except (ValueError, TypeError, IndexError):
            return False
        if not self.exists(*o) or not self.exists(*i):
            return False
        node: tuple[Level, str] | None = i
        while node is not None:
            if node == o:
                return True
            node = self.parent(*node)
        return False

    def name(self, level: Level | str, code: str) -> str:
        """Plain name of a territory; KeyError if unknown."""
        level = Level(level)
        if level is Level.COMMUNE:
            return self.communes[code].name
        if level is Level.DEPARTEMENT:
            return self.departements[code].name
        if level is Level.ZONE:
            return self.zones[code].name
        if code == NATIONAL:
            return "France"
        raise KeyError(code)

    def label(self, level: Level | str, code: str) -> str:
        """Name for lists, unambiguous: 'Guichen (35)', 'Ille-et-Vilaine (35)', 'Zone Ouest'."""
        level = Level(level)
        if level is Level.COMMUNE:
            return f"{self.communes[code].name} ({self.communes[code].departement})"
        if level is Level.DEPARTEMENT:
            return f"{self.departements[code].name} ({code})"
        if level is Level.ZONE:
            return f"Zone {self.zones[code].name}"
        return self.name(level, code)

    # ---- search ------------------------------------------------------------------------------

    def search(self, text: str, limit: int = 20) -> list[tuple[Level, str, str]]:
        """Territories by code (INSEE, arrondissement, postal, département, zone) or by name.

        Names are matched accent-, case- and punctuation-insensitively ('st' = 'saint'): exact
        names first, then names starting with the text, then a word starting with it, then
        anywhere; broader territories first, then larger communes.
        """
        if not isinstance(text, str) or limit <= 0:
            return []
        out: list[tuple[Level, str]] = []
        raw = text.strip().upper()
        if raw and re.fullmatch(r"[0-9AB]{2,5}", raw):
            if raw in self.departements:
                out.append((Level.DEPARTEMENT, raw))
            if raw in self.communes:
                out.append((Level.COMMUNE, raw))
            if (city := arrondissement_commune(raw)) is not None:
                out.append((Level.COMMUNE, city))
            out += [(Level.COMMUNE, c) for c in self.communes_by_postal_code(raw)]
            if len(raw) < 5:
                out += [(Level.COMMUNE, c) for c in self.communes if c.startswith(raw)][: limit]
        query = _fold(text)
        if query:
            hits = [e for e in self._names() if query in e[0]]
            padded = " " + query

            def rank(e: tuple[str, Level, str, int]) -> tuple:
                folded = e[0]
                how = 0 if folded == query else 1 if folded.startswith(query) else 2 if padded in " " + folded else 3
                return how, _LEVEL_RANK[e[1]], -e[3], folded, e[2]

            out += [(e[1], e[2]) for e in sorted(hits, key=rank)]
        seen: set[tuple[Level, str]] = set()
        results: list[tuple[Level, str, str]] = []
        for key in out:
            if key not in seen:
                seen.add(key)
                results.append((key[0], key[1], self.label(*key)))
                if len(results) >= limit:
                    break
        return results

    def _names(self) -> list[tuple[str, Level, str, int]]:
        if self._search_index is None:
            with self._lock:
                if self._search_index is None:
                    index = [("france", Level.NATIONAL, NATIONAL, 0)]
                    index += [(_fold(z.name), Level.ZONE, z.code, 0) for z in self.zones.values()]
                    index += [(_fold(d.name), Level.DEPARTEMENT, d.code, 0) for d in self.departements.values()]
                    index += [(_fold(c.name), Level.COMMUNE, c.insee, c.population) for c in self.communes.values()]
                    self._search_index = index
        return self._search_index

    # ---- lazy loading ------------------------------------------------------------------------

    def warm_up(self) -> None:
        """Load the polygons now (e.g. at service start) rather than on the first spatial call."""
        self._index()

    def _index(self) -> _Spatial:
        sp = self._spatial
        if sp is None:
            with self._lock:
                if self._spatial is None:
                    self._spatial = self._load_spatial()
                sp = self._spatial
        return sp

    def _load_spatial(self) -> _Spatial:
        shapes = _read_shapes(self.data_dir / "communes.geojson.gz", self.cache_dir)
        codes = sorted(c for c in shapes if c in self.communes)
        geoms = np.array([shapes[c] for c in codes], dtype=object)
        shapely.prepare(geoms)  # before sharing: preparing is not thread-safe, reading is
        return _Spatial(
            codes=np.array(codes + [None], dtype=object),
            geoms=geoms,
            tree=STRtree(geoms),
            position={c: i for i, c in enumerate(codes)},
        )

    def _shapes_of(self, level: Level) -> dict[str, Any]:
        if level not in self._shapes:
            with self._lock:
                if level not in self._shapes:
                    name = "departements" if level is Level.DEPARTEMENT else "zones"
                    self._shapes[level] = _read_shapes(self.data_dir / f"{name}.geojson.gz", self.cache_dir)
        return self._shapes[level]

    def _national(self) -> Any:
        if self._national_shape is None:
            zones = list(self._shapes_of(Level.ZONE).values())
            # The zones tile the territory: their parts side by side, no costly union.
            parts = shapely.get_parts(np.array(zones, dtype=object))
            self._national_shape = shapely.multipolygons(parts)
        return self._national_shape


# ---- module-level helpers -----------------------------------------------------------------------

_instance: Geography | None = None
_instance_lock = threading.Lock()


def get_geography(cache_dir: Path | None = None) -> Geography:
    """The process-wide Geography (CSVs loaded on first call, polygons on first spatial call).

    `cache_dir` (Settings.cache_dir) is where the polygons' binary cache lives: the composition root and
    the ingestion workers pass it; lookups that need no polygon (a territory's name) may call without it."""
    global _instance
    if _instance is None:
        with _instance_lock:
            if _instance is None:
                _instance = Geography(cache_dir=cache_dir)
    if cache_dir is not None and _instance.cache_dir is None:
        _instance.cache_dir = cache_dir  # polygons are read lazily: not yet read, so read through the cache
    return _instance


def _haversine(lat1: Any, lon1: Any, lat2: Any, lon2: Any) -> Any:
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp, dl = p2 - p1, np.radians(np.asarray(lon2) - np.asarray(lon1))
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * _EARTH_RADIUS_M * np.arcsin(np.minimum(1.0, np.sqrt(a)))


def _read_communes(path: Path) -> dict[str, Commune]:
    # csv.reader and column positions, not DictReader: a dict per row for 35,000 communes made a visible
    # part of every process's start (each ingestion worker, the ingester, the API).
    with path.open(encoding="utf-8", newline="") as f:
        rows = csv.reader(f)
        header = next(rows)
        insee, name, departement, population, postal_codes = (
            header.index(column) for column in ("insee", "name", "departement", "population", "postal_codes")
        )
        return {
            r[insee]: Commune(
                insee=r[insee],
                name=r[name],
                departement=r[departement],
                population=int(r[population] or 0),  # a few uninhabited communes have none
                postal_codes=tuple(r[postal_codes].split()),  # space-separated in the file
            )
            for r in rows
        }


def _read_departements(path: Path) -> dict[str, Departement]:
    with path.open(encoding="utf-8", newline="") as f:
        return {
            r["code"]: Departement(
                code=r["code"],
                name=r["name"],
                region=r["region"],
                region_name=r["region_name"],
                prefecture_insee=r["prefecture_insee"],
                zone=r["zone"] or None,
            )
            for r in csv.DictReader(f)
        }


def _read_zones(path: Path) -> dict[str, Zone]:
    with path.open(encoding="utf-8", newline="") as f:
        return {r["code"]: Zone(code=r["code"], name=r["name"], seat_insee=r["seat_insee"]) for r in csv.DictReader(f)}


_CODE_PROPERTY = re.compile(r'"code"\s*:\s*"([^"]*)"')


def _read_shapes(path: Path, cache_dir: Path | None) -> dict[str, Any]:
    """{code: geometry} from a gzipped GeoJSON FeatureCollection keyed by properties.code, through the
    binary cache (adapters/shape_cache.py): parsing the communes' GeoJSON is most of a process's start."""
    return _parse_shapes(path) if cache_dir is None else cached_shapes(path, _parse_shapes, cache_dir)


def _parse_shapes(path: Path) -> dict[str, Any]:
    """{code: geometry} from a gzipped GeoJSON FeatureCollection keyed by properties.code."""
    text = gzip.decompress(path.read_bytes()).decode("utf-8")
    # Fast path: GEOS parses the whole collection in one call (about 3x faster than building the
    # features in Python); the codes come in feature order, as the only strings named "code".
    try:
        geoms = shapely.get_parts(shapely.from_geojson(text))
        codes = _CODE_PROPERTY.findall(text)
    except shapely.errors.GEOSException:  # e.g. a feature without geometry
        geoms, codes = [], [None]
    if len(codes) != len(geoms):
        features = orjson.loads(text)["features"]
        pairs = [(f["properties"]["code"], f["geometry"]) for f in features if f.get("geometry")]
        codes = [c for c, _ in pairs]
        geoms = shapely.from_geojson([orjson.dumps(g).decode() for _, g in pairs])
    return dict(zip(codes, geoms, strict=True))


def _fold(text: str) -> str:
    """Search key: no accents, lower case, words separated by single spaces, 'st' -> 'saint'."""
    text = unicodedata.normalize("NFKD", text.replace("œ", "oe").replace("Œ", "OE").replace("æ", "ae"))
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).lower()
    words = re.sub(r"[^0-9a-z]+", " ", text).split()
    return " ".join({"st": "saint", "ste": "sainte"}.get(w, w) for w in words)
