"""Who may address a request to whom, see it, act on it, and where it goes up (domain.access), without I/O."""

from __future__ import annotations

import pytest

from domain.access import (
    Denied,
    check_may_act_on_request,
    check_may_address,
    escalation_target,
    may_see_request,
)
from domain.geography import Level
from tests.unit.test_access import principal

C, D, Z, N = Level.COMMUNE, Level.DEPARTEMENT, Level.ZONE, Level.NATIONAL


def org(kind: str, level: Level, code: str) -> dict:
    return {"id": f"{kind}.{code}", "kind": kind, "name": f"{kind} {code}", "level": level.value, "code": code}


RENNES, BETTON, BREST = org("mairie", C, "35238"), org("mairie", C, "35126"), org("mairie", C, "29019")
PREF35, SDIS35, PREF29, PREF69 = org("prefecture", D, "35"), org("sdis", D, "35"), org("prefecture", D, "29"), \
    org("prefecture", D, "69")
PARTNER35 = {**org("partenaire", D, "35"), "id": "partenaire.35.croix-rouge"}
COZ, COZ_SE, COGIC = org("coz", Z, "ouest"), org("coz", Z, "sud-est"), org("cogic", N, "FR")
ROLE_OF = {"mairie": "mayor", "prefecture": "prefecture", "sdis": "sdis", "coz": "zone", "cogic": "national"}


def sends(issuer: dict, addressee: dict, kind: str = "information") -> bool:
    who = principal(ROLE_OF[issuer["kind"]], Level(issuer["level"]), issuer["code"])
    try:
        check_may_address(who, issuer["id"], issuer, addressee, kind)
    except Denied:
        return False
    return True


@pytest.mark.parametrize(("issuer", "addressee", "kind", "allowed"), [
    # Within the issuer's territory.
    (PREF35, RENNES, "action", True), (PREF35, SDIS35, "means", True), (PREF35, PARTNER35, "means", True),
    (COZ, PREF35, "means", True), (COZ, PREF29, "information", True), (COGIC, COZ, "means", True),
    (COGIC, RENNES, "information", True),
    # An organisation of the parent territory: a mairie to its préfecture (anything) or SDIS (information).
    (RENNES, PREF35, "population_alert", True), (RENNES, PREF35, "means", True),
    (RENNES, SDIS35, "information", True), (RENNES, SDIS35, "means", False),
    # The direct parent authority.
    (PREF35, COZ, "means", True), (COZ, COGIC, "means", True), (SDIS35, COZ, "information", True),
    # Elsewhere: another département, a neighbouring mairie, a grand-parent, another zone.
    (PREF35, BREST, "information", False), (PREF35, PREF29, "information", False), (RENNES, BETTON, "action", False),
    (RENNES, COZ, "means", False), (PREF35, COGIC, "means", False), (COZ, PREF69, "information", False),
    (COZ, COZ_SE, "information", False), (PREF35, PREF35, "information", False),
])
def test_who_may_address_whom(issuer, addressee, kind, allowed):
    assert sends(issuer, addressee, kind) is allowed


def test_one_acts_only_for_ones_own_organisation():
    prefet = principal("prefecture", D, "35")
    with pytest.raises(Denied):
        check_may_address(prefet, "prefecture.29", PREF35, RENNES, "information")
    with pytest.raises(Denied):
        check_may_address(principal("analyst", D, "35"), None, PREF35, RENNES, "information")


def test_who_sees_a_request():
    parties = [PREF35, RENNES]
    assert may_see_request(principal("mayor", C, "35238"), "mairie.35238", parties)
    assert may_see_request(principal("prefecture", D, "35"), "prefecture.35", parties)
    assert may_see_request(principal("zone", Z, "ouest"), "coz.ouest", parties), "an authority above"
    assert may_see_request(principal("national", N, "FR"), "cogic.FR", parties)
    for outsider, acting in ((principal("mayor", C, "35126"), "mairie.35126"),
                             (principal("prefecture", D, "29"), "prefecture.29"),
                             (principal("sdis", D, "35"), "sdis.35"),
                             (principal("analyst", D, "35"), None),
                             (principal("zone", Z, "sud-est"), "coz.sud-est")):
        assert not may_see_request(outsider, acting, parties), outsider


def test_only_the_owner_answers_and_only_the_issuer_cancels():
    check_may_act_on_request("mairie.35238", "owner", PREF35, RENNES)
    check_may_act_on_request("prefecture.35", "issuer", PREF35, RENNES)
    for acting, who in (("prefecture.35", "owner"), ("mairie.35238", "issuer"), (None, "owner"),
                        ("coz.ouest", "owner")):
        with pytest.raises(Denied):
            check_may_act_on_request(acting, who, PREF35, RENNES)


def test_a_request_goes_up_to_the_parent_authority():
    assert escalation_target(RENNES, (D, "35")) == ("prefecture", D, "35")
    assert escalation_target(SDIS35, (Z, "ouest")) == ("prefecture", D, "35")
    assert escalation_target(PARTNER35, (Z, "ouest")) == ("prefecture", D, "35")
    assert escalation_target(PREF35, (Z, "ouest")) == ("coz", Z, "ouest")
    assert escalation_target(COZ, (N, "FR")) == ("cogic", N, "FR")
    assert escalation_target(COGIC, None) is None
