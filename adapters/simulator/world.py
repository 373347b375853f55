"""The static, seed-independent part of a scenario, computed once per process and shared by runs:
candidate communes and their weights, fire stations and SMUR sites, the crisis's time profile.
"""

from __future__ import annotations

import bisect
import itertools
import random
import threading
from dataclasses import dataclass

from adapters.geography import get_geography
from domain.geography import Commune

from .fleet import StationPlan, plan_departement
from .scenarios import IncidentProfile, Scenario, get_scenario

_CDF_STEPS = 2_000


@dataclass(frozen=True)
class World:
    scenario: Scenario
    communes: dict[str, tuple[Commune, ...]]  # département -> communes with a polygon
    cumulative: dict[str, tuple[float, ...]]  # département -> cumulative commune weights
    stations: tuple[StationPlan, ...]
    profile_cumulative: tuple[float, ...]
    time_quantiles: tuple[float, ...]  # inverse CDF of the case rate, sampled on _CDF_STEPS + 1 points

    def pick_commune(self, departement: str, rng: random.Random) -> Commune:
        cumulative = self.cumulative[departement]
        index = bisect.bisect_right(cumulative, rng.random() * cumulative[-1])
        return self.communes[departement][min(index, len(cumulative) - 1)]

    def pick_profile(self, rng: random.Random) -> IncidentProfile:
        index = bisect.bisect_right(self.profile_cumulative, rng.random() * self.profile_cumulative[-1])
        return self.scenario.profiles[min(index, len(self.scenario.profiles) - 1)]

    def time_fraction(self, budget_fraction: float) -> float:
        """Moment of the crisis (0…1) by which that fraction of the messages has been produced."""
        position = min(max(budget_fraction, 0.0), 1.0) * _CDF_STEPS
        low = int(position)
        if low >= _CDF_STEPS:
            return self.time_quantiles[-1]
        a, b = self.time_quantiles[low], self.time_quantiles[low + 1]
        return a + (b - a) * (position - low)


_worlds: dict[str, World] = {}
_lock = threading.Lock()


def get_world(scenario_key: str) -> World:
    world = _worlds.get(scenario_key)
    if world is None:
        with _lock:
            world = _worlds.get(scenario_key)
            if world is None:
                world = _build(get_scenario(scenario_key))
                _worlds[scenario_key] = world
    return world


def _build(scenario: Scenario) -> World:
    geo = get_geography()
    communes: dict[str, tuple[Commune, ...]] = {}
    cumulative: dict[str, tuple[float, ...]] = {}
    by_dep: dict[str, list[Commune]] = {d: [] for d, _, _ in scenario.departements}
    for commune in geo.communes.values():
        if commune.departement in by_dep and commune.population > 0 and geo.has_polygon(commune.insee):
            by_dep[commune.departement].append(commune)
    for dep, members in by_dep.items():
        members.sort(key=lambda c: c.insee)
        communes[dep] = tuple(members)
        weights = (c.population ** scenario.population_exponent for c in members)
        cumulative[dep] = tuple(itertools.accumulate(weights))
    # Stations are placed with their own fixed seed: the same fleet for every run of a scenario.
    rng = random.Random(f"stations:{scenario.key}")
    stations = tuple(plan_departement(d, d in scenario.forest, rng, scenario.station_extras)
                     for d, _, _ in scenario.departements)
    profile_cumulative = tuple(itertools.accumulate(p.weight for p in scenario.profiles))
    return World(scenario, communes, cumulative, stations, profile_cumulative,
                 _time_quantiles(scenario.intensity))


def _rate(points: tuple[tuple[float, float], ...], x: float) -> float:
    for (x0, y0), (x1, y1) in itertools.pairwise(points):
        if x <= x1:
            return y0 + (y1 - y0) * (x - x0) / (x1 - x0) if x1 > x0 else y1
    return points[-1][1]


def _time_quantiles(points: tuple[tuple[float, float], ...]) -> tuple[float, ...]:
    """Tabulated inverse of the cumulative case rate, so that case starts follow the intensity."""
    xs = [i / _CDF_STEPS for i in range(_CDF_STEPS + 1)]
    cdf = [0.0]
    for a, b in itertools.pairwise(xs):
        cdf.append(cdf[-1] + (_rate(points, a) + _rate(points, b)) / 2 * (b - a))
    total = cdf[-1]
    cdf = [c / total for c in cdf]
    quantiles = []
    for i in range(_CDF_STEPS + 1):
        target = i / _CDF_STEPS
        j = min(bisect.bisect_left(cdf, target), _CDF_STEPS)
        if j == 0:
            quantiles.append(0.0)
            continue
        c0, c1 = cdf[j - 1], cdf[j]
        quantiles.append(xs[j - 1] + (xs[j] - xs[j - 1]) * ((target - c0) / (c1 - c0) if c1 > c0 else 0.0))
    return tuple(quantiles)
