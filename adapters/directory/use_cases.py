"""The directory's acts, one implementation for every door (CLI, HTTP): register an organisation or a
person, grant and revoke a habilitation, invite by email link and accept, make the first administrator,
import and export the CSV.

Each act checks the domain's rules (domain.directory), then records its events with the read tables'
rows in one transaction (adapters.directory.writer). Refusals are `domain.access.Denied` (not allowed) or
`domain.directory.DirectoryError` (bad input), with French messages.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from uuid import UUID

from psycopg.sql import SQL

from adapters.directory import tables
from adapters.directory.lookups import DirectoryReader, Member, seal_contact, unseal_contact
from adapters.directory.writer import OPERATOR, Actor, Write, new_event, record, versions
from adapters.geography import Geography
from adapters.store.event_store import TocsinStore
from domain.access import Denied, Principal
from domain.directory import (
    ADMIN_ROLE,
    CONTACT_ROLES,
    KINDS,
    DirectoryError,
    Organisation,
    OrganisationKind,
    check_email,
    check_name,
    check_phone,
    check_role_in,
    check_siret,
    grant_refusal,
    kind_named,
    may_grant,
    may_read_directory,
    normalise_email,
    organisation_id,
    organisation_territory,
    position_role,
)
from domain.directory_events import Habilitation, Invitation, directory_uuid
from domain.directory_events import Organisation as OrganisationAggregate
from domain.directory_events import Person as PersonAggregate
from domain.geography import NATIONAL, Level


class Services(Protocol):
    """What the directory's acts need of the composition root (adapters.services.Services)."""

    @property
    def store(self) -> TocsinStore: ...
    @property
    def geography(self) -> Geography: ...
    @property
    def directory(self) -> DirectoryReader: ...
    def ensure_directory(self) -> None: ...

INVITATION_HOURS = 72
ADMIN_ORGANISATION = f"{OrganisationKind.COGIC.value}.{NATIONAL}"
ADMIN_POSITION = "Administrateur de l'annuaire"


def actor_of(principal: Principal | None) -> Actor:
    """Who acts: a principal (HTTP) or, None, the operator at the server's console (CLI)."""
    if principal is None:
        return OPERATOR
    return Actor(principal.subject, principal.role.code, principal.organisation_id, principal.grant_id)


def check_may_grant(services: Services, principal: Principal | None, target: Organisation) -> None:
    """The operator may; a principal only for the organisations the domain's rule gives it."""
    if principal is None:
        return
    if not may_grant(principal.role.code, principal.level, principal.code, target, services.geography):
        raise Denied(grant_refusal(principal.role.code, target))


@dataclass
class Plan:
    """Events and read-table rows of one act (or of a whole imported file), recorded together."""

    services: Services
    actor: Actor
    events: list[Any] = field(default_factory=list)
    writes: list[Write] = field(default_factory=list)
    _versions: dict[UUID, int] = field(default_factory=dict)
    _people: dict[str, tuple[str, str, list[str]]] = field(default_factory=dict)  # email -> id, name, phones
    _organisations: dict[str, Organisation] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.services.ensure_directory()

    @property
    def store(self) -> Any:
        return self.services.store

    @property
    def reader(self) -> DirectoryReader:
        return self.services.directory

    def next_version(self, oid: UUID) -> int:
        if oid not in self._versions:
            self._versions[oid] = versions(self.store, [oid]).get(oid, 0)
        self._versions[oid] += 1
        return self._versions[oid]

    def commit(self) -> None:
        if self.events:
            record(self.store, self.events, self.writes)
            self.reader.invalidate()  # this process at once; the others when the notification reaches them

    # ---- organisations ----------------------------------------------------------------------------

    def organisation(self, kind: OrganisationKind, level: Level, code: str, name: str,
                     siret: str | None = None, nexsis_id: str | None = None) -> Organisation:
        """The organisation of this kind and territory (and name, for the kinds that are not seeded):
        the existing one, or one registered now."""
        oid = organisation_id(kind, level, code, name)
        known = self._organisations.get(oid) or self.reader.organisation(oid)
        if known is not None:
            self._organisations[oid] = known
            return known
        if KINDS[kind].seeded:
            raise DirectoryError(f"organisation introuvable : {oid} (l'annuaire n'est pas initialisé ?)")
        org = Organisation(oid, kind, check_name(name, "nom de l'organisation"), level, code, check_siret(siret),
                           nexsis_id or None)
        aggregate = directory_uuid("organisation", oid)
        self.events.append(new_event(
            OrganisationAggregate.Registered, aggregate, self.next_version(aggregate), organisation_id=oid,
            kind=kind.value, name=org.name, level=level.value, code=code, siret=org.siret, nexsis_id=org.nexsis_id,
            by=self.actor.as_dict(),
        ))
        table = self.store.table(tables.ORGANISATIONS)
        self.writes.append(lambda curs: curs.execute(
            SQL("INSERT INTO {} (id, kind, name, level, code, siret, nexsis_id) VALUES (%s,%s,%s,%s,%s,%s,%s)"
                " ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, siret = EXCLUDED.siret,"
                " nexsis_id = EXCLUDED.nexsis_id").format(table),
            (org.id, kind.value, org.name, level.value, code, org.siret, org.nexsis_id)))
        self._organisations[oid] = org
        return org

    # ---- people -------------------------------------------------------------------------------------

    def person(self, name: str, email: str, phones: Sequence[str]) -> str:
        """The person of this email (registered now, or updated when their name or telephones changed)."""
        email = check_email(email)
        name = check_name(name, "nom de la personne")
        phones = [p for p in (check_phone(p) for p in phones) if p]
        if email in self._people:
            pid, known_name, known_phones = self._people[email]
            if (known_name, known_phones) != (name, phones):
                raise DirectoryError(f"{email} : deux noms ou téléphones différents pour la même personne")
            return pid
        store = self.store
        key = tables.email_key(store, email)
        with store.connect() as conn:
            row = conn.execute(SQL("SELECT id, contact FROM {} WHERE email_key = %s").format(
                store.table(tables.PEOPLE)), (key,)).fetchone()
        table = store.table(tables.PEOPLE)
        sealed = seal_contact(store, name, email, phones)
        if row is None:
            pid = str(directory_uuid("person", email))
            aggregate = UUID(pid)
            self.events.append(new_event(PersonAggregate.Registered, aggregate, self.next_version(aggregate),
                                         person_id=pid, name=name, email=email, phones=phones, by=self.actor.as_dict()))
        else:
            pid = row["id"]
            contact = unseal_contact(store, row["contact"])
            self._people[email] = (pid, name, phones)
            if (contact["name"], contact["phones"]) == (name, phones):
                return pid
            aggregate = UUID(pid)
            self.events.append(new_event(PersonAggregate.Updated, aggregate, self.next_version(aggregate),
                                         name=name, email=email, phones=phones, by=self.actor.as_dict()))
        self.writes.append(lambda curs: curs.execute(
            SQL("INSERT INTO {} (id, email_key, contact) VALUES (%s, %s, %s)"
                " ON CONFLICT (id) DO UPDATE SET contact = EXCLUDED.contact").format(table), (pid, key, sealed)))
        self._people[email] = (pid, name, phones)
        return pid

    # ---- habilitations ------------------------------------------------------------------------------

    def grant(self, person_id: str, org: Organisation, role: str, position: str | None,
              until: datetime | None) -> str:
        """Habilitate the person in the organisation (idempotent: the same grant again records nothing)."""
        check_role_in(org.kind, role)
        aggregate = directory_uuid("habilitation", f"{person_id}|{org.id}|{role}")
        grant_id = str(aggregate)
        existing = self.reader.habilitation(grant_id)
        if (existing is not None and existing["revoked_at"] is None and existing["position"] == position
                and existing["until"] == until):
            return grant_id
        self.events.append(new_event(
            Habilitation.Granted, aggregate, self.next_version(aggregate), person_id=person_id,
            organisation_id=org.id, role=role, position=position, until=until.isoformat() if until else None,
            by=self.actor.as_dict(),
        ))
        table = self.store.table(tables.HABILITATIONS)
        by = self.actor.subject
        self.writes.append(lambda curs: curs.execute(
            SQL("INSERT INTO {} (id, person_id, organisation_id, role, position, granted_by, granted_at, until)"
                " VALUES (%s,%s,%s,%s,%s,%s,now(),%s) ON CONFLICT (id) DO UPDATE SET position = EXCLUDED.position,"
                " granted_by = EXCLUDED.granted_by, granted_at = now(), until = EXCLUDED.until, revoked_at = NULL"
            ).format(table), (grant_id, person_id, org.id, role, position, by, until)))
        return grant_id


def _until(until: datetime | None) -> datetime | None:
    if until is None:
        return None
    if until.tzinfo is None:
        raise DirectoryError("date de fin sans fuseau horaire")
    if until <= datetime.now(UTC):
        raise DirectoryError("date de fin déjà passée")
    return until


@dataclass(frozen=True)
class Granted:
    grant_id: str
    person_id: str
    organisation: Organisation
    role: str
    position: str


def grant(services: Services, principal: Principal | None, *, organisation_id: str, email: str, name: str,
          position: str, phones: Sequence[str] = (), until: datetime | None = None) -> Granted:
    """Give a person (registered if need be) a habilitation in an organisation, its role following the
    position; `principal` None is the operator."""
    services.ensure_directory()
    org = services.directory.organisation(organisation_id)
    if org is None:
        raise DirectoryError(f"organisation inconnue : {organisation_id}")
    check_may_grant(services, principal, org)
    role, label = position_role(org.kind, position)
    if role == ADMIN_ROLE and principal is not None and principal.role.code != ADMIN_ROLE:
        raise Denied("seul un administrateur nomme un administrateur")
    plan = Plan(services, actor_of(principal))
    person_id = plan.person(name, email, phones)
    grant_id = plan.grant(person_id, org, role, label, _until(until))
    plan.commit()
    return Granted(grant_id, person_id, org, role, label)


def grant_admin(services: Services, email: str, name: str | None = None) -> Granted:
    """The first administrator (or another), by the operator at the server's console."""
    email = check_email(email)
    return grant(services, None, organisation_id=ADMIN_ORGANISATION, email=email,
                 name=name or email.split("@")[0], position=ADMIN_POSITION)


def revoke(services: Services, principal: Principal | None, grant_id: str) -> bool:
    """End a habilitation at once (False: it was not in force). Who may is decided on its organisation."""
    services.ensure_directory()
    row = services.directory.habilitation(grant_id)
    if row is None:
        raise DirectoryError(f"habilitation inconnue : {grant_id}")
    org = services.directory.organisation(row["organisation_id"])
    assert org is not None, "a habilitation's organisation is in the directory"
    check_may_grant(services, principal, org)
    if row["revoked_at"] is not None:
        return False
    plan = Plan(services, actor_of(principal))
    aggregate = UUID(grant_id)
    plan.events.append(new_event(Habilitation.Revoked, aggregate, plan.next_version(aggregate),
                                 by=plan.actor.as_dict()))
    table = services.store.table(tables.HABILITATIONS)
    plan.writes.append(lambda curs: curs.execute(
        SQL("UPDATE {} SET revoked_at = now() WHERE id = %s").format(table), (grant_id,)))
    plan.commit()
    return True


# ---- invitations --------------------------------------------------------------------------------------


def token_digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


@dataclass(frozen=True)
class Invited:
    token: str  # to put in the link sent by email: recorded nowhere, only its SHA-256 is
    expires_at: datetime
    organisation: Organisation
    email: str


def invite(services: Services, principal: Principal | None, *, organisation_id: str, email: str, position: str,
           hours: float = INVITATION_HOURS) -> Invited:
    """An invitation to be habilitated in an organisation, by a link (single use, expiring)."""
    services.ensure_directory()
    org = services.directory.organisation(organisation_id)
    if org is None:
        raise DirectoryError(f"organisation inconnue : {organisation_id}")
    check_may_grant(services, principal, org)
    email = check_email(email)
    role, label = position_role(org.kind, position)
    if role == ADMIN_ROLE and principal is not None and principal.role.code != ADMIN_ROLE:
        raise Denied("seul un administrateur nomme un administrateur")
    if not 0 < hours <= 24 * 30:
        raise DirectoryError("durée de validité d'une invitation : de quelques minutes à 30 jours")
    token = secrets.token_urlsafe(32)
    digest = token_digest(token)
    expires = datetime.now(UTC) + timedelta(hours=hours)
    plan = Plan(services, actor_of(principal))
    aggregate = directory_uuid("invitation", digest.hex())
    plan.events.append(new_event(
        Invitation.Issued, aggregate, 1, token_sha256=digest.hex(), email=email, organisation_id=org.id, role=role,
        position=label, expires_at=expires.isoformat(), by=plan.actor.as_dict(),
    ))
    table = services.store.table(tables.INVITATIONS)
    key = tables.email_key(services.store, email)
    plan.writes.append(lambda curs: curs.execute(
        SQL("INSERT INTO {} (token_sha256, id, email_key, organisation_id, role, position, expires_at)"
            " VALUES (%s,%s,%s,%s,%s,%s,%s)").format(table),
        (digest, str(aggregate), key, org.id, role, label, expires)))
    plan.commit()
    return Invited(token, expires, org, email)


def accept_invitation(services: Services, token: str, *, email: str, name: str,
                      phones: Sequence[str] = ()) -> Granted:
    """Accept an invitation: the person (matched by email, the one invited) is habilitated. Single use:
    the acceptance is the invitation's second event, so a second acceptance, even at the same moment, is
    refused by the event store's (id, version) key."""
    services.ensure_directory()
    digest = token_digest(token or "")
    row = services.directory.invitation(digest)
    refused = DirectoryError("invitation invalide, expirée ou déjà utilisée : demandez-en une nouvelle")
    if row is None or row["accepted_at"] is not None or row["expires_at"] <= datetime.now(UTC):
        raise refused
    if tables.email_key(services.store, check_email(email)) != bytes(row["email_key"]):
        raise refused
    org = services.directory.organisation(row["organisation_id"])
    assert org is not None
    plan = Plan(services, Actor(normalise_email(email), "invitation"))
    person_id = plan.person(name, email, phones)
    grant_id = plan.grant(person_id, org, row["role"], row["position"], None)
    aggregate = UUID(row["id"])
    plan.events.append(new_event(Invitation.Accepted, aggregate, 2, grant_id=grant_id))
    table = services.store.table(tables.INVITATIONS)
    plan.writes.append(lambda curs: curs.execute(
        SQL("UPDATE {} SET accepted_at = now() WHERE token_sha256 = %s").format(table), (digest,)))
    try:
        plan.commit()
    except Exception as e:  # accepted meanwhile: the (id, version 2) key is taken
        now = services.directory.invitation(digest)
        if now is not None and now["accepted_at"] is not None:
            raise refused from e
        raise
    return Granted(grant_id, person_id, org, row["role"], row["position"])


# ---- CSV ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Imported:
    rows: int
    events: int  # 0: everything was there already


def import_csv(services: Services, text: str, principal: Principal | None = None) -> Imported:
    """Import a directory file: every row checked first; any bad row refuses the whole file (FileRefused,
    nothing recorded). Idempotent: what is already in the directory records nothing."""
    services.ensure_directory()
    from adapters.directory.csv_file import FileRefused, parse

    rows = parse(text, services.geography)
    plan = Plan(services, actor_of(principal))
    errors: list[tuple[int, str]] = []
    for row in rows:
        try:
            org = plan.organisation(row.kind, row.level, row.code, row.organisation_name)
            check_may_grant(services, principal, org)
            if row.email is not None:
                assert row.person_name is not None and row.role is not None
                if row.role == ADMIN_ROLE and principal is not None and principal.role.code != ADMIN_ROLE:
                    raise Denied("seul un administrateur nomme un administrateur")
                person_id = plan.person(row.person_name, row.email, row.phones)
                plan.grant(person_id, org, row.role, row.position, row.until)
        except (DirectoryError, Denied) as e:
            errors.append((row.line, str(e)))
    if errors:
        raise FileRefused(errors)
    plan.commit()
    return Imported(len(rows), len(plan.events))


def export_csv(services: Services) -> str:
    """The directory as a file `import_csv` reads back: every habilitation in force, and the organisations
    registered by people that have nobody yet (the seeded ones without anybody are left out)."""
    services.ensure_directory()
    from adapters.directory.csv_file import PHONE_SEPARATOR, until_text, write

    reader = services.directory
    orgs = {o.id: o for o in reader.all_organisations()}
    members = reader.members(None)
    with_people = {m.organisation_id for m in members}
    seeded = reader.reference.by_id
    rows: list[tuple[str, ...]] = []
    for m in members:
        o = orgs[m.organisation_id]
        rows.append((o.kind.value, o.territory, o.name, m.name, m.position or "", m.email,
                     PHONE_SEPARATOR.join(m.phones), until_text(m.until)))
    for o in orgs.values():
        if o.id not in with_people and o.id not in seeded:
            rows.append((o.kind.value, o.territory, o.name, "", "", "", "", ""))
    rows.sort(key=lambda r: (r[1], r[0], r[2], r[5]))
    return write(rows)


# ---- reads, scoped like every other read ------------------------------------------------------------------


def _sees(services: Services, principal: Principal, level: Level, code: str) -> bool:
    services.ensure_directory()
    return may_read_directory(principal.role.code, principal.role.reads, principal.level, principal.code,
                              (level, code), services.geography)


def organisations(services: Services, principal: Principal, territory: tuple[Level, str] | None) -> list[Organisation]:
    """The organisations of a territory (None: the principal's own and those above it, whom it reports to).
    Denied for a territory outside what the principal sees in the directory."""
    if territory is not None:
        if not _sees(services, principal, *territory):
            raise Denied(f"annuaire hors de votre périmètre : {territory[0].value}:{territory[1]}")
        wanted = [territory]
    else:
        wanted = []
        node: tuple[Level, str] | None = (principal.level, principal.code)
        while node is not None:
            wanted.append(node)
            node = services.geography.parent(*node)
        wanted = [t for t in wanted if _sees(services, principal, *t)]
    return services.directory.organisations_in(wanted)


def people(services: Services, principal: Principal, organisation_id: str) -> tuple[list[Member], bool]:
    """The people habilitated in an organisation, and whether their contacts may be shown to the principal.
    An organisation the principal may not see is reported unknown (DirectoryError), like a missing one."""
    org = services.directory.organisation(organisation_id)
    if org is None or not _sees(services, principal, org.level, org.code):
        raise DirectoryError(f"organisation inconnue : {organisation_id}")
    return services.directory.members([org.id]), principal.role.code in CONTACT_ROLES


# ---- organisations and people on their own --------------------------------------------------------------


def register_organisation(services: Services, principal: Principal | None, *, kind: str, territory: str, name: str,
                          siret: str | None = None, nexsis_id: str | None = None) -> Organisation:
    """An organisation of a kind that is not seeded (EPCI, partner), registered by whoever may grant in it
    (the existing one when it is there: idempotent)."""
    services.ensure_directory()
    org_kind = kind_named(kind)
    level, code = organisation_territory(org_kind, territory, services.geography)
    plan = Plan(services, actor_of(principal))
    org = plan.organisation(org_kind, level, code, name, siret, nexsis_id)
    check_may_grant(services, principal, org)
    plan.commit()
    return org


def update_organisation(services: Services, principal: Principal | None, organisation_id: str, *,
                        name: str | None = None, siret: str | None = None,
                        nexsis_id: str | None = None) -> Organisation:
    """New details of an organisation (a seeded one's SIRET or NexSIS id, a partner's new name)."""
    services.ensure_directory()
    org = services.directory.organisation(organisation_id)
    if org is None:
        raise DirectoryError(f"organisation inconnue : {organisation_id}")
    check_may_grant(services, principal, org)
    new = replace(org, name=check_name(name, "nom de l'organisation") if name else org.name,
                  siret=check_siret(siret) if siret is not None else org.siret,
                  nexsis_id=(nexsis_id.strip() or None) if nexsis_id is not None else org.nexsis_id)
    if new == org:
        return org
    plan = Plan(services, actor_of(principal))
    aggregate = directory_uuid("organisation", org.id)
    plan.events.append(new_event(OrganisationAggregate.Updated, aggregate, plan.next_version(aggregate),
                                 organisation_id=org.id, name=new.name, siret=new.siret, nexsis_id=new.nexsis_id,
                                 by=plan.actor.as_dict()))
    table = services.store.table(tables.ORGANISATIONS)
    seeded = KINDS[org.kind].seeded
    plan.writes.append(lambda curs: curs.execute(
        SQL("INSERT INTO {} (id, kind, name, level, code, siret, nexsis_id, seeded) VALUES (%s,%s,%s,%s,%s,%s,%s,%s)"
            " ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, siret = EXCLUDED.siret,"
            " nexsis_id = EXCLUDED.nexsis_id").format(table),
        (new.id, new.kind.value, new.name, new.level.value, new.code, new.siret, new.nexsis_id, seeded)))
    plan.commit()
    return new


def register_person(services: Services, principal: Principal | None, *, name: str, email: str,
                    phones: Sequence[str] = ()) -> str:
    """A person (registered, or their name and telephones updated), before or without any habilitation.
    Any principal who may grant somewhere may; the operator always."""
    services.ensure_directory()
    if principal is not None and principal.role.code not in ("prefecture", "zone", "national", ADMIN_ROLE):
        raise Denied("seuls ceux qui donnent des habilitations enregistrent des personnes")
    plan = Plan(services, actor_of(principal))
    person_id = plan.person(name, email, phones)
    plan.commit()
    return person_id
