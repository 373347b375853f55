"""A habilitation becomes a principal in one place (domain.directory.principal_for): the grant's role over
its organisation's territory, naming the organisation and the habilitation, ending with the first of the
session and the habilitation."""

from __future__ import annotations

import pytest

from adapters.geography import get_geography
from domain.access import Act, Denied, UnknownRole
from domain.directory import Grant, OrganisationKind, principal_for
from domain.geography import Level


def grant(role: str = "mayor", level: Level = Level.COMMUNE, code: str = "35238", until: float | None = None) -> Grant:
    return Grant(id="hab-1", person_id="p-1", person_name="Marie Dupont", email="marie.dupont@rennes.fr",
                 organisation_id="org-1", organisation_name="Mairie de Rennes",
                 organisation_kind=OrganisationKind.MAIRIE, role=role, level=level, code=code, until=until)


@pytest.fixture(scope="module")
def geography():
    return get_geography()


def test_the_principal_acts_for_the_grant_s_organisation_over_its_territory(geography):
    principal = principal_for(grant(), geography, expires_at=2_000.0)
    assert (principal.role.code, principal.territory) == ("mayor", "commune:35238")
    assert principal.organisation_id == "org-1" and principal.grant_id == "hab-1"
    assert principal.subject == "marie.dupont@rennes.fr" and principal.name == "Marie Dupont"
    assert principal.expires_at == 2_000.0
    assert principal.can_see("commune", "35238") and not principal.can_see("commune", "29019")
    assert principal.may(Act.READ) and not principal.may_see_personal


def test_it_ends_with_the_first_of_the_session_and_the_habilitation(geography):
    assert principal_for(grant(until=1_000.0), geography, expires_at=2_000.0).expires_at == 1_000.0
    assert principal_for(grant(until=3_000.0), geography, expires_at=2_000.0).expires_at == 2_000.0
    assert principal_for(grant(), geography).expires_at == float("inf")


def test_a_grant_the_access_policy_cannot_hold_is_refused(geography):
    with pytest.raises(Denied):
        principal_for(grant(role="mayor", level=Level.DEPARTEMENT, code="35"), geography)
    with pytest.raises(UnknownRole):
        principal_for(grant(role="pompier"), geography)
