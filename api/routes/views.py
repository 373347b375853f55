"""The view of one territory at its level: the same levels and codes as `tocsin view`."""

from __future__ import annotations

from fastapi import APIRouter

from api.dependencies import PathTerritory, ReadModelDep
from api.schemas import ChildCount, JSONBytes, TerritoryView

router = APIRouter(prefix="/api/v1/views", tags=["Vues par territoire"])


@router.get(
    "/{level}/{code}",
    response_class=JSONBytes,
    response_model=TerritoryView,
    summary="Vue d'un territoire : affaires en cours, victimes, moyens engagés",
    description=(
        "`level` : commune (code INSEE), departement (code), zone (code), national (`FR`). "
        "Réponse 403 pour un territoire hors de votre périmètre."
    ),
)
async def get_view(territory: PathTerritory, read_model: ReadModelDep) -> JSONBytes:
    level, code = territory
    geography = read_model.geography
    view = await read_model.territory_view(level, code)
    view["name"] = geography.name(level, code)
    view["label"] = geography.label(level, code)
    return JSONBytes(view)


@router.get(
    "/{level}/{code}/children",
    response_class=JSONBytes,
    response_model=list[ChildCount],
    summary="Affaires en cours par subdivision (pour colorer la carte)",
)
async def get_children(territory: PathTerritory, read_model: ReadModelDep) -> JSONBytes:
    return JSONBytes(await read_model.children_counts(*territory))
