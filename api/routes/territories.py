"""Territories: search, detail with children, and boundaries for the map (all scoped)."""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated, Any

import numpy as np
import orjson
import shapely
from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool

from adapters.geography import Geography
from api.dependencies import GeographyDep, PathTerritory, Reader
from api.schemas import FeatureCollection, GeoJSONBytes, Territory, TerritoryDetail
from domain.geography import Level

router = APIRouter(prefix="/api/v1/territories", tags=["Territoires"])

# Simplification tolerance (degrees) of the shapes drawn on the map, by level of the map's territory:
# a national map of 100+ départements stays light; a commune keeps its detail.
_TOLERANCE = {Level.NATIONAL: 0.02, Level.ZONE: 0.006, Level.DEPARTEMENT: 0.0015, Level.COMMUNE: 0.0002}


def _territory(geography: Geography, level: Level, code: str) -> dict[str, Any]:
    return {"level": level.value, "code": code, "name": geography.name(level, code),
            "label": geography.label(level, code)}


@router.get("", response_model=list[Territory],
            summary="Rechercher des territoires (nom ou code INSEE, département, zone)")
async def search_territories(
    principal: Reader,
    geography: GeographyDep,
    q: Annotated[str | None, Query(description="Nom, code INSEE, code postal, département ou zone")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
) -> list[dict[str, Any]]:
    """Sans `q` : votre territoire et ses subdivisions directes. Seuls les territoires de votre périmètre."""
    if not q:
        own = [(principal.level, principal.code)] + geography.children(principal.level, principal.code)
        return [_territory(geography, lvl, code) for lvl, code in own[:limit]]
    # Search wider, then keep what the caller may see.
    found = await run_in_threadpool(geography.search, q, max(limit * 20, 200))
    visible = [(lvl, code) for lvl, code, _ in found if principal.can_see(lvl, code)]
    return [_territory(geography, lvl, code) for lvl, code in visible[:limit]]


@router.get("/{level}/{code}", response_model=TerritoryDetail,
            summary="Un territoire : nom, parent, subdivisions")
async def get_territory(principal: Reader, territory: PathTerritory, geography: GeographyDep) -> dict[str, Any]:
    lvl, code = territory
    parent = geography.parent(lvl, code)
    out = _territory(geography, lvl, code)
    out["parent"] = _territory(geography, *parent) if parent and principal.can_see(*parent) else None
    out["children"] = [_territory(geography, child, c) for child, c in geography.children(lvl, code)]
    return out


@router.get(
    "/{level}/{code}/map",
    summary="Contours GeoJSON du territoire et de ses subdivisions (simplifiés pour la carte)",
    response_class=GeoJSONBytes,
    response_model=FeatureCollection,
)
async def get_map(territory: PathTerritory, geography: GeographyDep) -> GeoJSONBytes:
    body = await run_in_threadpool(map_geojson, geography, *territory)
    return GeoJSONBytes(body, headers={"Cache-Control": "private, max-age=3600"})


@lru_cache(maxsize=256)
def _simplified(geography: Geography, level: Level, code: str, tolerance: float) -> str | None:
    geometry = geography.boundary(level, code)
    if geometry is None:
        return None
    geom = shapely.from_geojson(orjson.dumps(geometry).decode())
    # Drawing only: rounding may make a polygon invalid, which an SVG path does not mind.
    digits = 5 if tolerance < 0.001 else 4 if tolerance < 0.01 else 3
    geom = shapely.transform(shapely.simplify(geom, tolerance, preserve_topology=True), lambda c: np.round(c, digits))
    return shapely.to_geojson(geom)


@lru_cache(maxsize=1024)
def _bbox(geography: Geography, level: Level, code: str) -> list[float] | None:
    geometry = _simplified(geography, level, code, _TOLERANCE[Level.NATIONAL])
    if geometry is None:
        return None
    return [round(float(v), 3) for v in shapely.bounds(shapely.from_geojson(geometry))]


def map_geojson(geography: Geography, level: Level, code: str) -> bytes:
    """FeatureCollection: the territory itself (role 'self') and its children (role 'child').

    On the national map each zone also names its départements with their bounding boxes (`parts`): a
    zone overseas spans oceans (La Réunion and Mayotte), and the map frames one island at a time."""
    tolerance = _TOLERANCE[level]
    features = []
    for role, (lvl, c) in [("self", (level, code))] + [("child", x) for x in geography.children(level, code)]:
        geometry = _simplified(geography, lvl, c, tolerance)
        if geometry is None:
            continue
        properties: dict[str, Any] = {"level": lvl.value, "code": c, "name": geography.name(lvl, c), "role": role}
        if level is Level.NATIONAL and role == "child":
            properties["parts"] = [
                {"level": part_level.value, "code": part, "name": geography.name(part_level, part), "bbox": box}
                for part_level, part in geography.children(lvl, c)
                if (box := _bbox(geography, part_level, part)) is not None
            ]
        features.append(
            '{"type":"Feature","geometry":' + geometry + ',"properties":' + orjson.dumps(properties).decode() + "}"
        )
    return ('{"type":"FeatureCollection","features":[' + ",".join(features) + "]}").encode()
