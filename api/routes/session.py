"""Who am I: the caller's role and territory, as the token grants them (the dashboard shows them)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.dependencies import CurrentPrincipal
from api.schemas import Me

router = APIRouter(prefix="/api/v1", tags=["Session"])


@router.get("/me", response_model=Me, summary="Qui suis-je : rôle et territoire du jeton")
async def me(principal: CurrentPrincipal) -> dict[str, Any]:
    return principal.as_dict()
