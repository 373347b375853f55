"""Fire and SAMU vehicles of the simulated départements, and which one answers a call.

Each département gets fire stations (CIS) in its most populated communes, with a vehicle allotment
by station size, plus département-wide special vehicles at the main station, and SMUR vehicles at
its largest hospitals. A vehicle is busy from its dispatch until it is back at base, so it is never
engaged on two cases at once; when every nearby vehicle of a kind is busy, a reinforcement column
from a neighbouring département (``colonne de renfort``) supplies one, as happens in real crises.
"""

from __future__ import annotations

import heapq
import math
import random
import unicodedata
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from adapters.geography import get_geography

from .organisations import fire_org, health_org


@dataclass(frozen=True, slots=True)
class VehicleKind:
    code: str  # short French name: FPT, VSAV…
    vehicle_type: str  # RC-RI vehicleType: the schema only allows 'SIS' or 'SMUR'
    vector: str  # HubSante.typeVecteur code, the finer type (sent in freetext)
    medical_level: str  # RC-RI team.medicalLevel
    transports: bool  # carries victims to hospital (TRANSP… DESTIN statuses)
    rclass: str  # EMSI RTYPE.RCLASS
    label: str  # French description, for free texts


KINDS: dict[str, VehicleKind] = {
    k.code: k
    for k in (
        VehicleKind("VSAV", "SIS", "SIS.VSAV", "SECOURS", True, "MAT/VEH/ROADVE/AMBUL",
                    "véhicule de secours et d'assistance aux victimes"),
        VehicleKind("FPT", "SIS", "SIS.FEUSIS", "SECOURS", False, "MAT/VEH/ROADVE/FRFGTN/FRF",
                    "fourgon pompe-tonne"),
        VehicleKind("CCF", "SIS", "SIS.FEUSIS", "SANS", False, "MAT/VEH/ROADVE/FRFGTN/FRF",
                    "camion-citerne feux de forêts"),
        VehicleKind("CCGC", "SIS", "SIS.FEUSIS", "SANS", False, "MAT/VEH/ROADVE/FRFGTN/PUMP",
                    "camion-citerne grande capacité"),
        VehicleKind("EPA", "SIS", "SIS.AUTRESIS", "SANS", False, "MAT/VEH/ROADVE/FRFGTN/AERIAL",
                    "échelle pivotante automatique"),
        VehicleKind("VTU", "SIS", "SIS.AUTRESIS", "SANS", False, "MAT/VEH/ROADVE/FRFGTN/OTHR",
                    "véhicule tout usage"),
        VehicleKind("VSR", "SIS", "SIS.SRSIS", "SECOURS", False, "MAT/VEH/ROADVE/FRFGTN/RSC",
                    "véhicule de secours routier"),
        VehicleKind("VLCG", "SIS", "SIS.VLCG", "SANS", False, "MAT/VEH/ROADVE/FRFGTN/C3",
                    "véhicule léger chef de groupe"),
        VehicleKind("VLHR", "SIS", "SIS.VLSIS", "SANS", False, "MAT/VEH/ROADVE/FRFGTN/C3",
                    "véhicule léger hors route"),
        VehicleKind("VLISP", "SIS", "SIS.VLISP", "PARAMED", False, "MAT/VEH/ROADVE/AUTOMO",
                    "véhicule léger infirmier sapeur-pompier"),
        VehicleKind("BLS", "SIS", "SIS.NAVISIS", "SECOURS", False, "MAT/VEH/VESSEL/SMLLBO",
                    "bateau léger de sauvetage"),
        VehicleKind("VPL", "SIS", "SIS.VPL", "SECOURS", False, "MAT/VEH/ROADVE/FRFGTN/RSC",
                    "véhicule plongeurs"),
        VehicleKind("PC", "SIS", "SIS.PCSIS", "SANS", False, "MAT/VEH/ROADVE/FRFGTN/C3",
                    "poste de commandement"),
        VehicleKind("DRAGON", "SIS", "SIS.DRAGON", "SECOURS", True, "MAT/VEH/AIRCRF/HEL",
                    "hélicoptère de la sécurité civile"),
        VehicleKind("PELICAN", "SIS", "SIS.AVSC", "SANS", False, "MAT/VEH/AIRCRF/TANKER",
                    "avion bombardier d'eau"),
        VehicleKind("VLM", "SMUR", "SMUR.VLM", "MED", False, "MAT/VEH/ROADVE/AUTOMO",
                    "véhicule léger médicalisé"),
        VehicleKind("AR", "SMUR", "SMUR.AR", "MED", True, "MAT/VEH/ROADVE/AMBUL",
                    "ambulance de réanimation"),
    )
}

# Vehicle allotment of a station by rank of its commune's population in the département.
_STATION_TIERS: tuple[tuple[int, dict[str, int]], ...] = (
    (2, {"FPT": 3, "VSAV": 4, "VTU": 2, "EPA": 1, "VSR": 1, "VLCG": 1}),
    (10, {"FPT": 2, "VSAV": 2, "VTU": 1, "VSR": 1, "EPA": 1}),
    (32, {"FPT": 1, "VSAV": 1, "VTU": 1}),
)
_FOREST_EXTRA = {"CCF": 2}  # every station of a forest-fire département
_DEPARTEMENT_SPECIALS = {"BLS": 2, "VPL": 1, "PC": 1, "VLHR": 2, "VLISP": 2, "CCGC": 1, "DRAGON": 1}
_SMUR_SITES = ((1, {"VLM": 3, "AR": 1}), (3, {"VLM": 1}))

# What a station sends when it has none of the requested kind left (pumping, road rescue).
SUBSTITUTES: dict[str, tuple[str, ...]] = {"VTU": ("FPT",), "VSR": ("FPT",), "VLCG": ("VLHR",)}

KM_PER_DEGREE = 111.2


def slug(text: str) -> str:
    """ASCII, upper case, '-' separated: safe inside a resourceId segment."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "-".join("".join(c if c.isalnum() else " " for c in ascii_text).upper().split())


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    # Equirectangular approximation: plenty for travel times inside a département.
    x = (lon2 - lon1) * math.cos(math.radians((lat1 + lat2) / 2))
    return KM_PER_DEGREE * math.hypot(x, lat2 - lat1)


class Station:
    __slots__ = ("name", "insee", "lat", "lon", "vehicles")

    def __init__(self, name: str, insee: str, lat: float, lon: float) -> None:
        self.name, self.insee, self.lat, self.lon = name, insee, lat, lon
        self.vehicles: dict[str, list[Vehicle]] = {}


class Vehicle:
    """One engageable vehicle; ``free_at`` is simulated time (epoch seconds) it is back at base."""

    __slots__ = ("kind", "resource_id", "org_id", "name", "centre_name", "centre_city", "lat", "lon",
                 "team", "free_at", "reinforcement")

    def __init__(self, kind: VehicleKind, resource_id: str, org_id: str, name: str, centre_name: str,
                 centre_city: str | None, lat: float, lon: float, team: str, reinforcement: bool = False) -> None:
        self.kind, self.resource_id, self.org_id, self.name = kind, resource_id, org_id, name
        self.centre_name, self.centre_city, self.lat, self.lon = centre_name, centre_city, lat, lon
        self.team, self.reinforcement = team, reinforcement
        self.free_at = -math.inf


@dataclass(frozen=True, slots=True)
class StationPlan:
    """The static part of a département's fleet (cached per scenario, shared by simulations)."""

    departement: str
    stations: tuple[tuple[str, str, float, float, tuple[tuple[str, int], ...]], ...]
    smur_sites: tuple[tuple[str, str, float, float, tuple[tuple[str, int], ...]], ...]


def plan_departement(departement: str, forest: bool, rng: random.Random,
                     extras: Sequence[tuple[str, int]] = ()) -> StationPlan:
    """Stations in the most populated communes of the département, positioned inside them."""
    geo = get_geography()
    communes = sorted(
        (c for c in geo.communes.values() if c.departement == departement and geo.has_polygon(c.insee)),
        key=lambda c: (-c.population, c.insee),
    )
    stations = []
    rank = 0
    for limit, allotment in _STATION_TIERS:
        while rank < min(limit, len(communes)):
            commune = communes[rank]
            counts = dict(allotment)
            if forest:
                counts.update(_FOREST_EXTRA)
            if rank < 10:
                for kind, count in extras:
                    counts[kind] = counts.get(kind, 0) + count
            if rank == 0:
                for kind, count in _DEPARTEMENT_SPECIALS.items():
                    counts[kind] = counts.get(kind, 0) + count
                if forest:
                    counts["PELICAN"] = 2
                    counts["CCF"] = 6
            name = f"{commune.name} Centre" if rank == 0 else commune.name
            lat, lon = geo.random_point_in(commune.insee, rng)
            stations.append((name, commune.insee, lat, lon, tuple(sorted(counts.items()))))
            rank += 1
    smur_sites = []
    rank = 0
    for limit, allotment in _SMUR_SITES:
        while rank < min(limit, len(communes)):
            commune = communes[rank]
            lat, lon = geo.random_point_in(commune.insee, rng)
            smur_sites.append((commune.name, commune.insee, lat, lon, tuple(sorted(allotment.items()))))
            rank += 1
    return StationPlan(departement, tuple(stations), tuple(smur_sites))


def _centre_city(insee: str) -> str | None:
    # RC-RI centerCity must be 5 digits: Corsican codes (2A…/2B…) cannot be expressed.
    return insee if insee.isdigit() else None


class Fleet:
    """The live vehicles of one simulation (busy times change, so not shared between runs)."""

    def __init__(self, plans: Sequence[StationPlan], reinforcement_from: Sequence[str]) -> None:
        self._stations: dict[str, list[Station]] = {}
        for plan in plans:
            org = fire_org(plan.departement)
            samu = health_org(plan.departement)
            stations = []
            for name, insee, lat, lon, counts in plan.stations:
                station = Station(name, insee, lat, lon)
                for code, count in counts:
                    kind = KINDS[code]
                    station.vehicles[code] = [
                        Vehicle(kind, f"{org.id}.resource.{code}{n}-{insee}", org.id, f"{code} {n} {name}",
                                f"CIS {name}", _centre_city(insee), lat, lon, f"Équipe {code} {n}")
                        for n in range(1, count + 1)
                    ]
                stations.append(station)
            for name, insee, lat, lon, counts in plan.smur_sites:
                station = Station(f"SMUR {name}", insee, lat, lon)
                for code, count in counts:
                    kind = KINDS[code]
                    station.vehicles[code] = [
                        Vehicle(kind, f"{samu.id}.smur-{insee}.resource.{code}{n}", samu.id,
                                f"SMUR {name} {code} {n}", f"SMUR {name}", _centre_city(insee), lat, lon,
                                f"Équipe SMUR {n}")
                        for n in range(1, count + 1)
                    ]
                stations.append(station)
            self._stations[plan.departement] = stations
        self._reinforcement_from = tuple(reinforcement_from) or ("00",)
        self._free_reinforcements: dict[str, list[tuple[float, str, Vehicle]]] = {}
        self._reinforcement_count: dict[str, int] = {}
        self._nearest: dict[str, list[Station]] = {}

    def stations_by_distance(self, departement: str, insee: str, lat: float, lon: float) -> list[Station]:
        # Cached per commune: the first case point of a commune stands for the whole commune.
        order = self._nearest.get(insee)
        if order is None:
            order = sorted(self._stations[departement], key=lambda s: distance_km(lat, lon, s.lat, s.lon))
            self._nearest[insee] = order
        return order

    def engage(self, code: str, departement: str, insee: str, lat: float, lon: float, at: float,
               exclude: Collection[str] = ()) -> Vehicle:
        """The nearest free vehicle of that kind (or of a substitute kind) not in ``exclude``;
        else a reinforcement."""
        stations = self.stations_by_distance(departement, insee, lat, lon)
        for candidate in (code, *SUBSTITUTES.get(code, ())):
            for station in stations:
                for vehicle in station.vehicles.get(candidate, ()):
                    if vehicle.free_at <= at and vehicle.resource_id not in exclude:
                        return vehicle
        return self._reinforcement(code, at, lat, lon, exclude)

    def release(self, vehicle: Vehicle, free_at: float) -> None:
        """Record when the vehicle is back at base (call once per engagement)."""
        vehicle.free_at = free_at
        if vehicle.reinforcement:
            heapq.heappush(self._free_reinforcements.setdefault(vehicle.kind.code, []),
                           (free_at, vehicle.resource_id, vehicle))

    def _reinforcement(self, code: str, at: float, lat: float, lon: float, exclude: Collection[str]) -> Vehicle:
        # Columns can grow to thousands of vehicles in huge runs: reuse the earliest free one.
        free = self._free_reinforcements.get(code)
        if free and free[0][0] <= at and free[0][2].resource_id not in exclude:
            return heapq.heappop(free)[2]
        self._reinforcement_count[code] = n = self._reinforcement_count.get(code, 0) + 1
        origin = self._reinforcement_from[(n - 1) % len(self._reinforcement_from)]
        kind = KINDS[code]
        if kind.vehicle_type == "SMUR":
            org = health_org(origin)
            name, centre = f"SMUR renfort {origin} {code} {n}", f"SAMU {origin} (renfort)"
        else:
            org = fire_org(origin)
            name, centre = f"{code} {n} Colonne de renfort {origin}", f"Colonne de renfort SDIS {origin}"
        # A column staged near the crisis: positioned around the first case that needed it.
        return Vehicle(kind, f"{org.id}.resource.{code}{n}-COL{slug(origin)}", org.id, name, centre, None,
                       lat + 0.05, lon - 0.05, f"Renfort {origin} équipe {n}", reinforcement=True)
