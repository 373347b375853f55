"""The view of one territory at its level: the same levels and codes as `tocsin view`."""

from __future__ import annotations

from fastapi import APIRouter, Request

from api.auth import Reader, check_territory
from api.responses import JSONBytes

router = APIRouter(prefix="/api/v1/views", tags=["Vues par territoire"])


@router.get(
    "/{level}/{code}",
    response_class=JSONBytes,
    summary="Vue d'un territoire : affaires en cours, victimes, moyens engagés",
    description=(
        "`level` : commune (code INSEE), departement (code), zone (code), national (`FR`). "
        "Réponse 403 pour un territoire hors de votre périmètre."
    ),
)
async def get_view(request: Request, principal: Reader, level: str, code: str) -> JSONBytes:
    lvl = check_territory(principal, level, code)
    geography = request.app.state.services.geography
    view = await request.app.state.read_model.territory_view(lvl, code)
    view["name"] = geography.name(lvl, code)
    view["label"] = geography.label(lvl, code)
    return JSONBytes(view)


@router.get(
    "/{level}/{code}/children",
    response_class=JSONBytes,
    summary="Affaires en cours par subdivision (pour colorer la carte)",
)
async def get_children(request: Request, principal: Reader, level: str, code: str) -> JSONBytes:
    lvl = check_territory(principal, level, code)
    return JSONBytes(await request.app.state.read_model.children_counts(lvl, code))
