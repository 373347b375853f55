"""The directory's vocabulary: organisations, people and the habilitations that let a person act for an
organisation, and how a habilitation becomes a `domain.access.Principal`.

What a person may see and do comes from the organisation they act for (a mairie, a préfecture, an
SDIS…), never from a claim in a login token: a habilitation names the organisation and the role held in
it, and the organisation's territory is the principal's perimeter. One person may hold several
habilitations and chooses, per session, the one they act under; every act records it.

Pure: the store, the seeding from reference data, the CSV import and the lookups live in
`adapters.directory`; the rules of who may grant what live here so that the API, the CLI and the
demonstration login ask the same question.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from domain.access import Principal, check_holds, role_named
from domain.geography import Hierarchy, Level


class OrganisationKind(StrEnum):
    """The kinds of the directory's CSV (`organisation_kind` column) and of the API."""

    MAIRIE = "mairie"
    EPCI = "epci"
    PREFECTURE = "prefecture"
    SDIS = "sdis"
    COZ = "coz"
    COGIC = "cogic"
    PARTENAIRE = "partenaire"


@dataclass(frozen=True)
class Grant:
    """One active habilitation, as login and the access policy need it (read from the directory)."""

    id: str  # the habilitation's id
    person_id: str
    person_name: str
    email: str  # lower-cased: people are matched by email (ProConnect's `sub` differs per service)
    organisation_id: str
    organisation_name: str
    organisation_kind: OrganisationKind
    role: str  # a `domain.access.ROLES` code
    level: Level  # the organisation's territory
    code: str
    until: float | None = None  # epoch seconds; None: no end date

    @property
    def territory(self) -> str:
        return f"{self.level.value}:{self.code}"


class Habilitations(Protocol):
    """What login needs from the directory (implemented in `adapters.directory`)."""

    def active_for_email(self, email: str) -> Sequence[Grant]:
        """The person's habilitations in force now, any organisation (empty: nobody to let in)."""
        ...

    def active(self, grant_id: str) -> Grant | None:
        """The habilitation, if still in force (revoked or expired: None): checked on every request."""
        ...


def normalise_email(email: str) -> str:
    """The directory's key for a person: trimmed and lower-cased (emails are matched case-insensitively)."""
    return email.strip().lower()


def principal_for(grant: Grant, geography: Hierarchy, *, expires_at: float = float("inf")) -> Principal:
    """The principal a person acts as under this habilitation: the grant's role over its organisation's
    territory, naming the organisation and the habilitation (every act records them). It ends with the
    session (`expires_at`) or the habilitation, whichever comes first. Denied or UnknownRole for a grant
    the access policy cannot hold (a role bound to another level of territory)."""
    role = role_named(grant.role)
    check_holds(role, grant.level)
    until = float("inf") if grant.until is None else grant.until
    return Principal(grant.email, role, grant.level, grant.code, geography, name=grant.person_name,
                     expires_at=min(expires_at, until), organisation_id=grant.organisation_id, grant_id=grant.id)
