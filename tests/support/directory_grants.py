"""Habilitations for the login tests, granted and revoked in the real directory (adapters.directory's use
cases, as the operator would at the console), under names the tests choose: the directory gives its own
ids, and the tests read them back with `id(name)`."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from adapters.directory import use_cases
from adapters.directory.recipients import DirectoryRecipients
from adapters.services import Services
from domain.directory import OrganisationKind, organisation_id
from domain.geography import Level

# The position a test's role is granted under (the role follows the position in the directory).
POSITION_OF_ROLE = {"mayor": "Maire", "prefecture": "Directeur de cabinet", "sdis": "Chef de salle CODIS",
                    "zone": "Officier COZ", "national": "Officier COGIC"}
KIND_OF_ROLE = {"mayor": OrganisationKind.MAIRIE, "prefecture": OrganisationKind.PREFECTURE,
                "sdis": OrganisationKind.SDIS, "zone": OrganisationKind.COZ, "national": OrganisationKind.COGIC}


@dataclass
class Habilitated:
    services: Services
    ids: dict[str, str] = field(default_factory=dict)

    def grant(self, name: str, email: str, role: str, level: Level, code: str, *,
              person: str = "Personne", until: float | None = None, **_: object) -> str:
        """Grant `role` in the seeded organisation of that role's kind over (level, code); its id."""
        granted = use_cases.grant(
            self.services, None, organisation_id=organisation_id(KIND_OF_ROLE[role], level, code), email=email,
            name=person, position=POSITION_OF_ROLE[role],
            until=None if until is None else datetime.fromtimestamp(until, UTC))
        self.ids[name] = granted.grant_id
        return granted.grant_id

    def revoke(self, name: str) -> None:
        use_cases.revoke(self.services, None, self.ids[name])

    def id(self, name: str) -> str:
        return self.ids[name]


# The position a person is granted under by `habilitate`, after the organisation id's kind (its prefix).
POSITION_IN = {"mairie": "Maire", "prefecture": "Directeur de cabinet", "sdis": "Chef de salle CODIS"}


def habilitate(services: Services, people: dict[str, tuple[str, str, str]]
               ) -> tuple[DirectoryRecipients, dict[str, str]]:
    """Grant each person `key: (organisation id, name, email)` in the real directory, in the order given, under
    the usual position of that kind of organisation: the directory as alerting asks it, and each key's person
    id (the directory gives its own)."""
    ids = {key: use_cases.grant(services, None, organisation_id=org, email=email, name=name,
                                position=POSITION_IN[org.split(".")[0]]).person_id
           for key, (org, name, email) in people.items()}
    return DirectoryRecipients(services.directory), ids
