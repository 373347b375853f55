"""French administrative geography and the rules that place a case in it.

Pure: no I/O and no geometry library. The adapter (adapters.geography) loads the reference files and
injects what needs polygons (`locate`, `Directory.distance_m`).

A case is placed in one commune (INSEE code, COG 2026), hence in one département and one zone de
défense et de sécurité. Field data is dirty (postal codes typed as INSEE codes, communes merged since,
points at sea, default or out-of-range coordinates), so `resolve_placement` checks the given code against
the commune list and against the point, keeps what agrees, and writes every correction or
disagreement into `Placement.notes` (French, shown to users) instead of hiding it. What cannot be
resolved stays explicitly unresolved; nothing is guessed.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

NATIONAL = "FR"

# A point off every commune polygon is attached to the nearest commune only within this distance.
NEAREST_MAX_M = 5_000.0


@dataclass(frozen=True, slots=True)
class Commune:
    insee: str
    name: str
    departement: str
    population: int
    postal_codes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Departement:
    code: str
    name: str
    region: str
    region_name: str
    prefecture_insee: str
    zone: str | None  # None for 975 (Saint-Pierre-et-Miquelon) and 989 (Clipperton)


@dataclass(frozen=True, slots=True)
class Zone:
    code: str
    name: str
    seat_insee: str


class Level(StrEnum):
    COMMUNE = "commune"
    DEPARTEMENT = "departement"
    ZONE = "zone"
    NATIONAL = "national"


class UnknownTerritory(ValueError):
    """A level or a code that names no territory, or a malformed `level:code` (French message, for users)."""


# How each level is named in messages (French).
LEVEL_NAMES = {Level.COMMUNE: "commune", Level.DEPARTEMENT: "département", Level.ZONE: "zone de défense",
               Level.NATIONAL: "niveau national"}


class Hierarchy(Protocol):
    """The territory tree as the rules need it (implemented by adapters.geography.Geography)."""

    def exists(self, level: Level, code: str) -> bool:
        """Is this a known territory?"""
        ...

    def contains(self, outer: tuple[Level, str], inner: tuple[Level, str]) -> bool:
        """Is `inner` inside `outer`, or the same territory? False for unknown territories."""
        ...

    def label(self, level: Level, code: str) -> str:
        """Unambiguous French name; KeyError if unknown."""
        ...


def territory(level: Level | str, code: str, *, known: Hierarchy | None = None) -> tuple[Level, str]:
    """A (level, code) pair, normalised: département codes upper case, the nation always `FR`.

    The one place where a territory given by a person (a URL path, a token claim, a CLI argument) becomes
    a (Level, code). With `known`, the code must also name an existing territory. Raises UnknownTerritory.
    """
    if isinstance(level, Level):
        lv = level
    else:
        try:
            lv = Level((level or "").strip().lower())
        except ValueError:
            raise UnknownTerritory(
                f"niveau de territoire inconnu : {level!r} (attendu : commune, departement, zone ou national)"
            ) from None
    code = (code or "").strip()
    if lv is Level.NATIONAL:
        if code.upper() != NATIONAL:
            raise UnknownTerritory(f"code national attendu : {NATIONAL}")
        return lv, NATIONAL
    if lv is Level.DEPARTEMENT:
        code = code.upper()
    if not code:
        raise UnknownTerritory(f"code de {LEVEL_NAMES[lv]} manquant")
    if known is not None and not known.exists(lv, code):
        raise UnknownTerritory(f"territoire inconnu : {lv.value}:{code}")
    return lv, code


def parse_territory(text: str, *, default: Level | None = None, known: Hierarchy | None = None) -> tuple[Level, str]:
    """'commune:35238' -> (Level.COMMUNE, '35238'); see `territory` for normalisation and `known`.

    A bare code is read at the `default` level when the caller has one (a mayor's token names a commune);
    without a default it is refused, except `FR`, which can only mean France.
    """
    text = (text or "").strip()
    level, sep, code = text.partition(":")
    if sep:
        return territory(level, code, known=known)
    if text.upper() in (NATIONAL, Level.NATIONAL.name):
        return territory(Level.NATIONAL, NATIONAL, known=known)
    if default is None or not text:
        raise UnknownTerritory(f"territoire mal formé : {text!r} (attendu niveau:code, ex. commune:35238)")
    return territory(default, text, known=known)


def level_of_code(code: str) -> Level:
    """A territory code's level, guessed by its form: INSEE codes have 5 characters, départements 2 or 3
    (01, 2A, 971), zones are names (ouest, paris…).

    Only for the replayed case lists, whose URL gives a bare code (`/replay/views/cases/29`): the one
    place where a level is guessed. Checked by form, not against a checkpoint, so a territory whose first
    case comes after the checkpoint is still recognised."""
    if code == NATIONAL:
        return Level.NATIONAL
    if len(code) == 5 and code[:2].isalnum() and code[2:].isdigit():
        return Level.COMMUNE
    if len(code) <= 3 and code[:2].isalnum() and (code[:2].isdigit() or code.upper() in ("2A", "2B")):
        return Level.DEPARTEMENT
    return Level.ZONE


METHODS = ("insee", "arrondissement", "postal-code", "point", "nearest", "unresolved")


@dataclass(frozen=True, slots=True)
class Placement:
    """Where a case is, and how that was decided.

    `method` says which rule placed it: 'insee' (valid code), 'arrondissement' (municipal
    arrondissement of Paris/Lyon/Marseille), 'postal-code' (a postal code in the INSEE field),
    'point' (commune containing the point), 'nearest' (point off every polygon, nearest commune
    within 5 km) or 'unresolved'. `given_code` is the code as received; `point` is (lat, lon) as
    received when it was usable, else None (the note says why it was dropped).
    """

    insee: str | None
    departement: str | None
    zone: str | None
    method: str
    notes: tuple[str, ...]
    given_code: str | None
    point: tuple[float, float] | None

    @property
    def resolved(self) -> bool:
        return self.insee is not None

    def as_dict(self) -> dict:
        return {
            "insee": self.insee,
            "departement": self.departement,
            "zone": self.zone,
            "method": self.method,
            "notes": list(self.notes),
            "given_code": self.given_code,
            "point": [self.point[0], self.point[1]] if self.point is not None else None,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Placement:
        point = d.get("point")
        return cls(
            insee=d.get("insee"),
            departement=d.get("departement"),
            zone=d.get("zone"),
            method=d.get("method") or "unresolved",
            notes=tuple(d.get("notes") or ()),
            given_code=d.get("given_code"),
            point=(float(point[0]), float(point[1])) if point is not None else None,
        )


class Directory(Protocol):
    """What the rules need to know about the reference data (implemented by adapters.Geography)."""

    communes: Mapping[str, Commune]
    departements: Mapping[str, Departement]

    def communes_by_postal_code(self, postal_code: str) -> Sequence[str]:
        """INSEE codes of the communes served by this postal code (empty if none)."""
        ...

    def distance_m(self, insee: str, lat: float, lon: float) -> float | None:
        """Metres from the point to the commune polygon (0 inside), None if the commune has none."""
        ...


# locate(lat, lon) -> (insee, 'point' | 'nearest') or None
Locate = Callable[[float, float], "tuple[str, str] | None"]

# Municipal arrondissements (INSEE codes that are not communes) -> their commune.
_ARRONDISSEMENTS = (
    (75101, 75120, "75056"),  # Paris
    (69381, 69389, "69123"),  # Lyon
    (13201, 13216, "13055"),  # Marseille
)


def arrondissement_commune(code: str) -> str | None:
    """The commune (Paris, Lyon, Marseille) of a municipal arrondissement code, else None."""
    if not re.fullmatch(r"[0-9]{5}", code):
        return None
    n = int(code)
    for low, high, commune in _ARRONDISSEMENTS:
        if low <= n <= high:
            return commune
    return None


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres (spherical Earth, ample for notes and a 5 km threshold)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6_371_008.8 * math.asin(min(1.0, math.sqrt(a)))


def format_distance(metres: float | None) -> str:
    """French rendering: '850 m', '1,2 km', '392 km'."""
    if metres is None or not math.isfinite(metres):
        return "distance inconnue"
    if metres < 1000:
        return f"{int(round(metres))} m"
    if metres < 10_000:
        return f"{metres / 1000:.1f} km".replace(".0 km", " km").replace(".", ",")
    return f"{int(round(metres / 1000))} km"


_CODE_SHAPE = re.compile(r"(?:[0-9]{5}|2[AB][0-9]{3})")  # ASCII only: str.isdigit accepts other scripts


def _clean_code(code: Any, notes: list[str]) -> tuple[str | None, str | None]:
    """(given_code as received, normalised code or None)."""
    if code is None:
        return None, None
    if isinstance(code, bool):  # bool is an int: never a commune code
        notes.append(f"Code commune illisible ({code!r}) ignoré")
        return str(code), None
    if isinstance(code, float) and math.isfinite(code) and code.is_integer():
        code = int(code)
    if isinstance(code, int):
        if not 0 <= code < 10**9:  # also avoids str() of huge ints, which raises
            notes.append("Code commune illisible (nombre hors plage) ignoré")
            return None, None
        given = str(code)
    elif isinstance(code, str):
        given = code
    else:
        notes.append(f"Code commune illisible ({type(code).__name__}) ignoré")
        return None, None
    cleaned = given.strip().upper()
    if not cleaned:
        return given, None
    if re.fullmatch(r"[0-9]{4}", cleaned):
        # Spreadsheets drop the leading zero of départements 01-09.
        notes.append(f"Code {cleaned} à 4 chiffres : zéro initial restauré (0{cleaned})")
        cleaned = "0" + cleaned
    return given, cleaned


def _clean_point(point: Any, notes: list[str]) -> tuple[float, float] | None:
    if point is None:
        return None
    try:
        raw_lat, raw_lon = point
    except (TypeError, ValueError):
        notes.append("Point illisible ignoré : couple (latitude, longitude) attendu")
        return None
    if raw_lat is None and raw_lon is None:
        return None
    if raw_lat is None or raw_lon is None:
        notes.append(f"Point incomplet ignoré (lat={_short(raw_lat)}, lon={_short(raw_lon)})")
        return None
    try:
        if isinstance(raw_lat, bool) or isinstance(raw_lon, bool):
            raise TypeError
        lat, lon = float(raw_lat), float(raw_lon)
    except (TypeError, ValueError, OverflowError):
        notes.append(f"Point illisible ignoré (lat={_short(raw_lat)}, lon={_short(raw_lon)})")
        return None
    if not (math.isfinite(lat) and math.isfinite(lon) and -90 <= lat <= 90 and -180 <= lon <= 180):
        notes.append(
            f"Point invalide ignoré (lat={_short(raw_lat)}, lon={_short(raw_lon)}) : "
            "latitude entre -90 et 90 et longitude entre -180 et 180 attendues"
        )
        return None
    if lat == 0 and lon == 0:
        notes.append("Point (0, 0) ignoré : valeur par défaut, pas une position")
        return None
    return lat, lon


def _short(value: Any) -> str:
    try:
        text = repr(value)
    except ValueError:  # int too large to print
        return "<nombre trop grand>"
    return text if len(text) <= 40 else text[:39] + "…"


def _quote(code: str) -> str:
    return code if len(code) <= 40 else code[:39] + "…"


class _Rules:
    """One resolution: the inputs, the accumulated notes, and helpers to phrase them."""

    def __init__(self, directory: Directory, locate: Locate, notes: list[str]) -> None:
        self.directory = directory
        self._locate = locate
        self.notes = notes
        self._asked = False
        self._located: tuple[str, str] | None = None

    def located(self, point: tuple[float, float]) -> tuple[str, str] | None:
        # Asked at most once: polygons are only touched when a rule needs them.
        if not self._asked:
            self._located = self._locate(point[0], point[1])
            self._asked = True
        return self._located

    def label(self, insee: str) -> str:
        commune = self.directory.communes.get(insee)
        return f"{commune.name} ({insee})" if commune else insee

    def distance(self, insee: str, point: tuple[float, float]) -> float | None:
        return self.directory.distance_m(insee, point[0], point[1])

    def check_point_agrees(self, kept: str, point: tuple[float, float], what: str) -> None:
        """Note when the point lies outside the commune kept from the code (the code wins)."""
        found = self.located(point)
        if found is not None and found[0] == kept:
            return
        where = _fmt_point(point)
        away = format_distance(self.distance(kept, point))
        if found is None:
            self.notes.append(
                f"Le point {where} n'est dans aucune commune (à {away} de {self.label(kept)}) : {what}"
            )
        else:
            self.notes.append(
                f"Le point {where} est dans la commune {self.label(found[0])}, "
                f"à {away} de {self.label(kept)} : {what}"
            )


def _fmt_point(point: tuple[float, float]) -> str:
    return f"({point[0]:.6f}, {point[1]:.6f})"


def resolve_placement(code: Any, point: Any, *, directory: Directory, locate: Locate) -> Placement:
    """Place a case from the commune code and/or the point (lat, lon) a message gives.

    Never raises on bad input: unusable values are dropped with a note. See the module docstring
    and adapters/reference/geo/SOURCES.md for why each rule exists.
    """
    notes: list[str] = []
    given, code = _clean_code(code, notes)
    pt = _clean_point(point, notes)
    rules = _Rules(directory, locate, notes)

    def placed(insee: str | None, method: str) -> Placement:
        departement = zone = None
        commune = directory.communes.get(insee) if insee is not None else None
        if commune is not None:
            departement = commune.departement
            dep = directory.departements.get(departement)
            zone = dep.zone if dep else None
        else:
            insee, method = None, "unresolved"
        return Placement(insee, departement, zone, method, tuple(notes), given, pt)

    if code is not None and _CODE_SHAPE.fullmatch(code) is None:
        # Not shaped like a commune or postal code: treat as unknown, but still try the point.
        return _from_point_with_unknown_code(code, pt, rules, placed)

    if code is not None and code in directory.communes:
        if pt is not None:
            found = rules.located(pt)
            if found is not None and found[0] != code and found[0] in directory.communes_by_postal_code(code):
                # The code is both this commune's INSEE code and the postal code of the commune the
                # point is in: the point agrees with the postal reading, trust what agrees.
                notes.append(
                    f"{code} est le code INSEE de {rules.label(code)} mais aussi un code postal de "
                    f"{rules.label(found[0])}, où se trouve le point : commune retenue {rules.label(found[0])}"
                )
                return placed(found[0], "postal-code")
            rules.check_point_agrees(code, pt, f"code INSEE {code} conservé")
        return placed(code, "insee")

    if code is not None and (city := arrondissement_commune(code)) is not None and city in directory.communes:
        notes.append(
            f"{code} est le code INSEE d'un arrondissement municipal : commune retenue {rules.label(city)}"
        )
        if pt is not None:
            rules.check_point_agrees(city, pt, f"commune {rules.label(city)} conservée")
        return placed(city, "arrondissement")

    candidates = [c for c in directory.communes_by_postal_code(code) if c in directory.communes] if code else []
    if candidates:
        return _from_postal_code(code, candidates, pt, rules, placed)

    if code is not None:
        return _from_point_with_unknown_code(code, pt, rules, placed)

    if pt is None:
        if not notes:
            notes.append("Ni code commune ni point : lieu non déterminé")
        else:
            notes.append("Aucun code commune ni point utilisable : lieu non déterminé")
        return placed(None, "unresolved")
    return _from_point(pt, rules, placed)


def _from_point(pt: tuple[float, float], rules: _Rules, placed: Callable[..., Placement]) -> Placement:
    found = rules.located(pt)
    if found is None:
        rules.notes.append(
            f"Le point {_fmt_point(pt)} n'est dans aucune commune ni à moins de "
            f"{format_distance(NEAREST_MAX_M)} d'une commune : lieu non déterminé"
        )
        return placed(None, "unresolved")
    insee, method = found
    if method == "nearest":
        rules.notes.append(
            f"Le point {_fmt_point(pt)} n'est dans aucun contour communal : commune la plus proche "
            f"retenue, {rules.label(insee)} à {format_distance(rules.distance(insee, pt))}"
        )
        return placed(insee, "nearest")
    return placed(insee, "point")


def _from_point_with_unknown_code(
    code: str, pt: tuple[float, float] | None, rules: _Rules, placed: Callable[..., Placement]
) -> Placement:
    what = f"Code « {_quote(code)} » inconnu (ni code INSEE actuel, ni code postal)"
    if pt is None:
        rules.notes.append(f"{what} et aucun point : lieu non déterminé")
        return placed(None, "unresolved")
    rules.notes.append(f"{what} : lieu déterminé d'après le point")
    return _from_point(pt, rules, placed)


def _from_postal_code(
    code: str,
    candidates: list[str],
    pt: tuple[float, float] | None,
    rules: _Rules,
    placed: Callable[..., Placement],
) -> Placement:
    prefix = f"{code} est un code postal, pas un code INSEE"
    if pt is not None:
        found = rules.located(pt)
        if found is not None and found[0] in candidates:
            rules.notes.append(f"{prefix} : commune retenue {rules.label(found[0])} d'après le point")
            return placed(found[0], "postal-code")
    if len(candidates) == 1:
        only = candidates[0]
        rules.notes.append(f"{prefix} : commune retenue {rules.label(only)}, seule commune de ce code postal")
        if pt is not None:
            rules.check_point_agrees(only, pt, "commune du code postal conservée")
        return placed(only, "postal-code")
    shared = f"{prefix}, partagé par {len(candidates)} communes ({_some(candidates, rules)})"
    if pt is None:
        rules.notes.append(f"{shared} ; sans point, la commune ne peut être déterminée")
        return placed(None, "unresolved")
    found = rules.located(pt)
    if found is None:
        rules.notes.append(
            f"{shared} ; le point {_fmt_point(pt)} n'est dans aucune d'elles ni dans aucune commune "
            f"à moins de {format_distance(NEAREST_MAX_M)} : lieu non déterminé"
        )
        return placed(None, "unresolved")
    # The point is a located fact; the shared postal code cannot choose, so the point decides.
    rules.notes.append(
        f"{shared}, dont aucune ne contient le point {_fmt_point(pt)} : commune retenue "
        f"{rules.label(found[0])} d'après le point"
    )
    return placed(found[0], "point" if found[1] == "point" else "nearest")


def _some(candidates: Sequence[str], rules: _Rules, shown: int = 5) -> str:
    names = ", ".join(rules.label(c) for c in candidates[:shown])
    return names + (", …" if len(candidates) > shown else "")


def territories_of(placement: Placement) -> list[tuple[Level, str]]:
    """The territories a case belongs to, narrowest first, always ending with the nation."""
    out: list[tuple[Level, str]] = []
    if placement.insee:
        out.append((Level.COMMUNE, placement.insee))
    if placement.departement:
        out.append((Level.DEPARTEMENT, placement.departement))
    if placement.zone:
        out.append((Level.ZONE, placement.zone))
    out.append((Level.NATIONAL, NATIONAL))
    return out
