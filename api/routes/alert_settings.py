"""How an organisation is alerted: the required rules as they apply to it, and its own settings (stricter
rules, rules of its own). Changing them is an act of the organisation's people (domain.access)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException
from fastapi.concurrency import run_in_threadpool

from adapters.notify.alert_settings import change_settings, describe
from adapters.services import Services
from api.dependencies import Reader, ServicesDep
from api.schemas import AlertSettingsIn, AlertSettingsOut
from domain.access import Denied, Principal, may_see_alert
from domain.alert_settings import SettingRefused, SettingsChanged
from domain.geography import Level

router = APIRouter(tags=["Alertes"])

_UNKNOWN = "organisation inconnue ou hors de votre périmètre"


def _visible(services: Services, principal: Principal, organisation_id: str) -> tuple[Level, str]:
    """The organisation's territory, when it exists and the principal may see how it is alerted (its own
    people and the authorities above it); 404 otherwise, like an unknown one."""
    organisation = services.directory.organisation(organisation_id)
    if organisation is None or not may_see_alert(principal, organisation_id, ()):
        raise HTTPException(404, _UNKNOWN)
    return organisation.level, organisation.code


@router.get("/api/v1/organisations/{organisation_id}/alert-rules", response_model=AlertSettingsOut,
            summary="Règles d'alerte d'une organisation, telles qu'elles s'appliquent à elle")
async def read_settings(organisation_id: str, principal: Reader, services: ServicesDep) -> dict:
    def read() -> dict:
        _visible(services, principal, organisation_id)
        return describe(services.store, organisation_id)

    return await run_in_threadpool(read)


@router.put("/api/v1/organisations/{organisation_id}/alert-rules", response_model=AlertSettingsOut,
            summary="Régler les alertes de votre organisation (plus strictes que requis, jamais moins)")
async def change(organisation_id: str, body: AlertSettingsIn, principal: Reader, services: ServicesDep) -> dict:
    def act() -> dict:
        territory = _visible(services, principal, organisation_id)
        return change_settings(services.store, principal, organisation_id, territory,
                               [t.model_dump() for t in body.tunings], [r.model_dump() for r in body.own_rules],
                               expected_version=body.version)

    try:
        return await run_in_threadpool(act)
    except Denied as e:
        raise HTTPException(403, str(e)) from e
    except SettingsChanged as e:
        raise HTTPException(409, str(e)) from e
    except SettingRefused as e:
        raise HTTPException(422, str(e)) from e
