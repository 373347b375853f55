"""Demonstration people: a few fictitious persons habilitated in the seeded organisations around Rennes
(mayor, préfecture, CODIS, zone, national), recorded through the directory's own acts when `tocsin run`
starts, so that the demonstration login picks a person of the directory rather than a bare role.

Their emails are under a reserved domain (RFC 2606 `.example`): the demonstration login accepts only
them, never a real person of the directory."""

from __future__ import annotations

from dataclasses import dataclass

from adapters.directory import use_cases
from domain.directory import Grant

DEMO_DOMAIN = "@demo.tocsin.example"


@dataclass(frozen=True)
class DemoPerson:
    organisation_id: str
    name: str
    position: str
    email: str
    phone: str


DEMO_PEOPLE: tuple[DemoPerson, ...] = (
    DemoPerson("mairie.35238", "Camille Martin", "Maire", "maire.rennes" + DEMO_DOMAIN, "02 99 00 00 01"),
    DemoPerson("prefecture.35", "Claire Lefèvre", "Directeur de cabinet", "cabinet.prefecture35" + DEMO_DOMAIN,
               "02 99 00 00 02"),
    DemoPerson("sdis.35", "Hugo Bernard", "Chef de salle CODIS", "codis.sdis35" + DEMO_DOMAIN, "02 99 00 00 03"),
    DemoPerson("coz.ouest", "Sophie Moreau", "Chef d'état-major de zone", "coz.ouest" + DEMO_DOMAIN,
               "02 99 00 00 04"),
    DemoPerson("cogic.FR", "Julien Petit", "Officier COGIC", "cogic" + DEMO_DOMAIN, "01 00 00 00 05"),
)


def seed_demo_people(services: use_cases.Services) -> int:
    """Habilitate the demonstration people (idempotent: already there, nothing is recorded); by the
    operator, as the server's console acts. Returns how many there are."""
    for p in DEMO_PEOPLE:
        use_cases.grant(services, None, organisation_id=p.organisation_id, email=p.email, name=p.name,
                        position=p.position, phones=[p.phone])
    return len(DEMO_PEOPLE)


def demo_grants(services: use_cases.Services) -> list[Grant]:
    """The demonstration people's habilitations in force, in the order above."""
    services.ensure_directory()
    found: list[Grant] = []
    for p in DEMO_PEOPLE:
        found += [g for g in services.directory.active_for_email(p.email) if g.organisation_id == p.organisation_id]
    return found
