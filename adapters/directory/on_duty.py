"""On-duty schedules' acts, one implementation for the API, the CLI and the /annuaire page: read an
organisation's schedule, set a period, remove one. Who may is domain.directory.may_set_duty; what a
period means, domain.on_duty. Each act records an `OnDutySchedule` event with the duties table's row in
one transaction (adapters.directory.writer), so the alert policy reads the schedule as soon as it is set.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import NAMESPACE_URL, uuid5
from zoneinfo import ZoneInfo

from psycopg.sql import SQL

from adapters.directory import tables
from adapters.directory.lookups import Member
from adapters.directory.recipients import ALERTED_ROLES
from adapters.directory.use_cases import Plan, Services, actor_of
from domain.access import Denied, Principal
from domain.directory import (
    DirectoryError,
    Organisation,
    duty_refusal,
    may_read_directory,
    may_set_duty,
    seeded_organisation_id,
)
from domain.directory_events import OnDutySchedule, directory_uuid
from domain.local_time import BadTime, format_local, parse_local, zone_of
from domain.on_duty import DutyPeriod, check_period, on_duty_at


def _organisation(services: Services, principal: Principal | None, organisation_id: str) -> Organisation:
    """The organisation, if the principal sees it in the directory (else unknown, like a missing one)."""
    services.ensure_directory()
    org = services.directory.organisation(organisation_id)
    if org is None or (principal is not None and not may_read_directory(
            principal.role.code, principal.role.reads, principal.level, principal.code, (org.level, org.code),
            services.geography)):
        raise DirectoryError(f"organisation inconnue : {organisation_id}")
    return org


def _check_may_set(services: Services, principal: Principal | None, org: Organisation) -> None:
    if principal is None:
        return  # the operator at the server's console
    acts_for = principal.organisation_id or seeded_organisation_id(principal.role.code, principal.level,
                                                                    principal.code)
    if not may_set_duty(principal.role.code, principal.level, principal.code, acts_for, org, services.geography):
        raise Denied(duty_refusal(org))


@dataclass(frozen=True)
class Schedule:
    """An organisation's schedule as people read it: its periods, who may be put on duty, who is now."""

    organisation: Organisation
    periods: list[DutyPeriod]
    candidates: list[Member]
    now: datetime

    @property
    def zone(self) -> ZoneInfo:
        return zone_of(self.organisation.level, self.organisation.code)

    @property
    def on_duty_now(self) -> list[str]:
        habilitated = {m.person_id for m in self.candidates}
        return [p for p in on_duty_at(self.periods, self.now) if p in habilitated]

    def name_of(self, person_id: str) -> str | None:
        return next((m.name for m in self.candidates if m.person_id == person_id), None)

    def rows(self) -> list[dict]:
        """Each period with the person's name and its times in the territory's zone, the zone stated."""
        return [{"id": p.id, "organisation_id": p.organisation_id, "person_id": p.person_id,
                 "name": self.name_of(p.person_id), "start": p.start, "end": p.end,
                 "start_local": format_local(p.start, self.zone), "end_local": format_local(p.end, self.zone)}
                for p in self.periods]


def schedule(services: Services, principal: Principal | None, organisation_id: str, *,
             since: datetime | None = None, days: int = 31) -> Schedule:
    """The organisation's periods that end after `since` (default: now) and start within `days`, and the
    people who may be on duty in it (habilitated with its operational role)."""
    org = _organisation(services, principal, organisation_id)
    now = datetime.now(UTC)
    since = since or now
    periods = services.directory.duties(org.id, ending_after=since, starting_before=since + timedelta(days=days))
    return Schedule(org, periods, on_duty_candidates(services, org.id), now)


def read_moment(text: str, organisation: Organisation) -> datetime:
    """A moment a person typed for a period: without an offset, in the organisation's territory's zone."""
    try:
        return parse_local(text, zone_of(organisation.level, organisation.code))
    except BadTime as e:
        raise DirectoryError(str(e)) from None


def on_duty_candidates(services: Services, organisation_id: str) -> list[Member]:
    """Who may be put on duty: the people habilitated in the organisation with a role alerts reach."""
    return [m for m in services.directory.members([organisation_id]) if m.role in ALERTED_ROLES]


def set_period(services: Services, principal: Principal | None, organisation_id: str, *, person: str,
               start: datetime | str, end: datetime | str) -> DutyPeriod:
    """Put a person (their id, or their email) on duty from `start` to `end` (moments, or as people type
    them: read in the territory's zone without an offset). Idempotent: the same period again records
    nothing."""
    org = _organisation(services, principal, organisation_id)
    _check_may_set(services, principal, org)
    start = read_moment(start, org) if isinstance(start, str) else start
    end = read_moment(end, org) if isinstance(end, str) else end
    check_period(start, end)
    if end <= datetime.now(UTC):
        raise DirectoryError("période d'astreinte déjà terminée")
    candidates = on_duty_candidates(services, org.id)
    wanted = person.strip()
    key = wanted.lower() if "@" in wanted else None
    chosen = next((m for m in candidates if (m.email == key if key else m.person_id == wanted)), None)
    if chosen is None:
        raise DirectoryError(f"cette personne n'est pas habilitée dans {org.name} (ou pas avec un rôle opérationnel)")
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    period_id = str(uuid5(NAMESPACE_URL, f"tocsin:duty:{org.id}|{chosen.person_id}|{start.isoformat()}|"
                                         f"{end.isoformat()}"))
    period = DutyPeriod(period_id, org.id, chosen.person_id, start, end)
    if services.directory.duty(period_id) is not None:
        return period
    plan = Plan(services, actor_of(principal))
    aggregate = directory_uuid("duty", org.id)
    plan.events.append(OnDutySchedule.PeriodSet(
        originator_id=aggregate, originator_version=plan.next_version(aggregate),
        timestamp=OnDutySchedule.PeriodSet.create_timestamp(), organisation_id=org.id, period_id=period_id,
        person_id=chosen.person_id, start=start.isoformat(), end=end.isoformat(), by=plan.actor.as_dict()))
    table = services.store.table(tables.DUTIES)
    by = plan.actor.subject
    plan.writes.append(lambda curs: curs.execute(
        SQL("INSERT INTO {} (id, organisation_id, person_id, starts_at, ends_at, set_by) VALUES (%s,%s,%s,%s,%s,%s)"
            " ON CONFLICT (id) DO NOTHING").format(table), (period_id, org.id, chosen.person_id, start, end, by)))
    plan.commit()
    return period


def remove_period(services: Services, principal: Principal | None, period_id: str) -> DutyPeriod:
    """Remove a period from its organisation's schedule (unknown, or outside what the principal sees: said
    unknown alike)."""
    services.ensure_directory()
    period = services.directory.duty(period_id)
    if period is None:
        raise DirectoryError(f"période d'astreinte inconnue : {period_id}")
    try:
        org = _organisation(services, principal, period.organisation_id)
    except DirectoryError:
        raise DirectoryError(f"période d'astreinte inconnue : {period_id}") from None
    _check_may_set(services, principal, org)
    plan = Plan(services, actor_of(principal))
    aggregate = directory_uuid("duty", org.id)
    plan.events.append(OnDutySchedule.PeriodRemoved(
        originator_id=aggregate, originator_version=plan.next_version(aggregate),
        timestamp=OnDutySchedule.PeriodRemoved.create_timestamp(), period_id=period_id, by=plan.actor.as_dict()))
    table = services.store.table(tables.DUTIES)
    plan.writes.append(lambda curs: curs.execute(SQL("DELETE FROM {} WHERE id = %s").format(table), (period_id,)))
    plan.commit()
    return period
