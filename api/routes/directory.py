"""The directory over HTTP: organisations and people (scoped like every other read), and grants,
revocations and invitations for those who may grant. Writes take the bearer token of the header (never
the dashboard's cookie: api.dependencies), so no other site can make a browser grant anything."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query
from fastapi.concurrency import run_in_threadpool

from adapters.directory import on_duty, use_cases
from api.dependencies import CurrentPrincipal, ServicesDep
from api.schemas import (
    DutyPeriodIn,
    DutyPeriodOut,
    DutyScheduleOut,
    GrantIn,
    GrantOut,
    InvitationIn,
    InvitationOut,
    OrganisationOut,
    PersonOut,
    RevocationOut,
)
from domain.access import Denied
from domain.directory import DirectoryError
from domain.geography import UnknownTerritory, parse_territory

router = APIRouter(prefix="/api/v1", tags=["Annuaire"])


def _refused(e: Exception) -> HTTPException:
    if isinstance(e, Denied):
        return HTTPException(403, str(e))
    if isinstance(e, DirectoryError) and str(e).startswith(("organisation inconnue", "habilitation inconnue",
                                                            "période d'astreinte inconnue")):
        return HTTPException(404, str(e))
    return HTTPException(422, str(e))


@router.get("/organisations", summary="Organisations d'un territoire (par défaut : le mien et ceux au-dessus)",
            response_model=list[OrganisationOut])
async def get_organisations(
    principal: CurrentPrincipal, services: ServicesDep,
    territory: Annotated[str | None, Query(max_length=64, examples=["commune:44018"])] = None,
) -> list[dict[str, Any]]:
    try:
        wanted = parse_territory(territory, known=services.geography) if territory else None
        found = await run_in_threadpool(use_cases.organisations, services, principal, wanted)
    except UnknownTerritory as e:
        raise HTTPException(422, str(e)) from e
    except (Denied, DirectoryError) as e:
        raise _refused(e) from e
    return [{"id": o.id, "kind": o.kind.value, "name": o.name, "territory": o.territory, "siret": o.siret,
             "nexsis_id": o.nexsis_id} for o in found]


@router.get("/people", summary="Personnes habilitées dans une organisation", response_model=list[PersonOut])
async def get_people(
    principal: CurrentPrincipal, services: ServicesDep,
    organisation: Annotated[str, Query(max_length=200, examples=["prefecture.35"])],
) -> list[dict[str, Any]]:
    """Adresse et téléphones pour les rôles qui doivent joindre les personnes en crise (maire, préfecture,
    SDIS, zone, national, administrateurs) ; les autres voient noms et fonctions."""
    try:
        members, contacts = await run_in_threadpool(use_cases.people, services, principal, organisation)
    except (Denied, DirectoryError) as e:
        raise _refused(e) from e
    return [{"person_id": m.person_id, "name": m.name, "position": m.position, "role": m.role,
             "organisation_id": m.organisation_id, "grant_id": m.grant_id, "until": m.until,
             "email": m.email if contacts else None, "phones": list(m.phones) if contacts else None}
            for m in members]


@router.post("/habilitations", summary="Habiliter une personne dans une organisation", response_model=GrantOut)
async def post_habilitation(principal: CurrentPrincipal, services: ServicesDep, body: GrantIn) -> dict[str, Any]:
    """Réservé à l'autorité parente (préfecture pour ses mairies et son SDIS, zone pour ses préfectures,
    national pour les zones) et aux administrateurs. Le rôle suit la fonction."""
    try:
        done = await run_in_threadpool(
            lambda: use_cases.grant(services, principal, organisation_id=body.organisation_id, email=body.email,
                                    name=body.name, position=body.position, phones=body.phones, until=body.until))
    except (Denied, DirectoryError) as e:
        raise _refused(e) from e
    return {"grant_id": done.grant_id, "person_id": done.person_id, "organisation_id": done.organisation.id,
            "role": done.role, "position": done.position}


@router.post("/habilitations/{grant_id}/revocation", summary="Retirer une habilitation (effet immédiat)",
             response_model=RevocationOut)
async def post_revocation(principal: CurrentPrincipal, services: ServicesDep, grant_id: str) -> dict[str, Any]:
    try:
        revoked = await run_in_threadpool(use_cases.revoke, services, principal, grant_id[:100])
    except (Denied, DirectoryError) as e:
        raise _refused(e) from e
    return {"grant_id": grant_id, "revoked": revoked}


@router.post("/invitations", summary="Inviter une personne par lien (usage unique, à durée limitée)",
             response_model=InvitationOut)
async def post_invitation(principal: CurrentPrincipal, services: ServicesDep, body: InvitationIn) -> dict[str, Any]:
    try:
        invited = await run_in_threadpool(
            lambda: use_cases.invite(services, principal, organisation_id=body.organisation_id, email=body.email,
                                     position=body.position, hours=body.hours))
    except (Denied, DirectoryError) as e:
        raise _refused(e) from e
    return {"token": invited.token, "expires_at": invited.expires_at, "organisation_id": invited.organisation.id,
            "email": invited.email}


# ---- on-duty schedules (astreintes) ----------------------------------------------------------------------


@router.get("/organisations/{organisation_id}/on-duty", summary="Planning d'astreinte d'une organisation",
            response_model=DutyScheduleOut)
async def get_on_duty(principal: CurrentPrincipal, services: ServicesDep, organisation_id: str) -> dict[str, Any]:
    """Les périodes en cours et à venir (31 jours), heures dans le fuseau du territoire. Hors de toute période,
    une alerte atteint toutes les personnes habilitées de l'organisation."""
    try:
        found = await run_in_threadpool(on_duty.schedule, services, principal, organisation_id[:200])
    except (Denied, DirectoryError) as e:
        raise _refused(e) from e
    return {"organisation_id": found.organisation.id, "time_zone": found.zone.key,
            "on_duty_now": found.on_duty_now, "periods": found.rows()}


@router.post("/organisations/{organisation_id}/on-duty", summary="Mettre une personne d'astreinte",
             response_model=DutyPeriodOut)
async def post_on_duty(principal: CurrentPrincipal, services: ServicesDep, organisation_id: str,
                       body: DutyPeriodIn) -> dict[str, Any]:
    """Réservé aux membres de l'organisation (avec son rôle opérationnel) et à l'autorité qui y habilite.
    La personne doit y être habilitée ; début inclus, fin exclue."""
    def act() -> dict[str, Any]:
        period = on_duty.set_period(services, principal, organisation_id[:200], person=body.person,
                                    start=body.start, end=body.end)
        [row] = [r for r in on_duty.schedule(services, principal, period.organisation_id, since=period.start).rows()
                 if r["id"] == period.id]
        return row

    try:
        return await run_in_threadpool(act)
    except (Denied, DirectoryError) as e:
        raise _refused(e) from e


@router.post("/on-duty/{period_id}/removal", summary="Retirer une période d'astreinte", response_model=DutyPeriodOut)
async def post_on_duty_removal(principal: CurrentPrincipal, services: ServicesDep, period_id: str) -> dict[str, Any]:
    def act() -> dict[str, Any]:
        period = on_duty.remove_period(services, principal, period_id[:100])
        org = services.directory.organisation(period.organisation_id)
        assert org is not None
        shown = on_duty.Schedule(org, [period], on_duty.on_duty_candidates(services, org.id), period.start)
        return shown.rows()[0]

    try:
        return await run_in_threadpool(act)
    except (Denied, DirectoryError) as e:
        raise _refused(e) from e
