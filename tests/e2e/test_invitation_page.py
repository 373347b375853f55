"""Accepting an invitation from its link, against a live server and a real OpenID Connect provider: the
invited person, logged in under the invited email, accepts once (CSRF form); another email, a second use,
an expired or unknown link, a missing CSRF token and no login are refused with French pages."""

from __future__ import annotations

import html
import re
import time
from datetime import UTC, datetime

from adapters.directory import use_cases

CSRF = re.compile(r'name="csrf" value="([^"]+)"')
NOBODY = "inconnu@exemple.fr"  # the provider's account without habilitation (tests/support/oidc_harness.py)


def _csrf(page: str) -> str:
    found = CSRF.search(page)
    assert found, "no CSRF token in the page"
    return found.group(1)


def test_the_invited_person_accepts_once_and_others_are_refused(oidc_stack):
    services = oidc_stack.services
    invited = use_cases.invite(services, None, organisation_id="mairie.35238", email=NOBODY.upper(),
                               position="Adjoint au maire")
    other = use_cases.invite(services, None, organisation_id="mairie.35238", email="autre@exemple.fr",
                             position="Adjoint au maire")
    expired = use_cases.invite(services, None, organisation_id="mairie.35238", email=NOBODY,
                               position="Secrétaire de mairie", hours=1 / 3600)
    stranger = oidc_stack.client()
    page = stranger.get(f"/invitation/{invited.token}")
    assert page.status_code == 200 and "connectez-vous avec ProConnect" in html.unescape(page.text)
    assert stranger.post(f"/invitation/{invited.token}", data={}).status_code == 401

    client = oidc_stack.client()
    oidc_stack.login(client, "nobody")
    page = client.get(f"/invitation/{invited.token}")
    assert page.status_code == 200 and NOBODY in page.text and 'id="accept"' in page.text
    csrf = _csrf(page.text)
    assert client.post(f"/invitation/{invited.token}", data={}).status_code == 403  # no CSRF token
    assert client.post(f"/invitation/{invited.token}", data={"csrf": "forged"}).status_code == 403
    time.sleep(max(0.0, (expired.expires_at - datetime.now(UTC)).total_seconds()) + 0.1)
    for token in (other.token, expired.token, "pas-une-invitation"):  # another's, expired, unknown
        refused = client.post(f"/invitation/{token}", data={"csrf": csrf})
        assert "Demandez-en une nouvelle" in html.unescape(refused.text)
    assert services.directory.active_for_email(NOBODY) == []
    accepted = client.post(f"/invitation/{invited.token}", data={"csrf": csrf})
    assert accepted.status_code == 200, accepted.text
    assert "Invitation acceptée" in accepted.text and "Mairie de Rennes" in accepted.text
    [grant] = services.directory.active_for_email(NOBODY)
    assert grant.organisation_id == "mairie.35238" and grant.role == "mayor"
    again = client.post(f"/invitation/{invited.token}", data={"csrf": csrf})
    assert again.status_code == 410  # single use
    # The new habilitation is offered to the session.
    assert 'data-grant="' + grant.id + '"' in client.get("/connexion/habilitation").text


def test_a_prefecture_logged_in_with_proconnect_grants_by_form_under_its_habilitation(oidc_stack):
    """The pages act under the OpenID Connect session: the recorded grant names the granter's
    organisation and habilitation."""
    from uuid import UUID

    from domain.geography import Level
    from tests.support.oidc_harness import MARIE

    services = oidc_stack.services
    oidc_stack.directory.grant("pref", MARIE["email"], "prefecture", Level.DEPARTEMENT, "35", person="Marie Dupont")
    client = oidc_stack.client()
    oidc_stack.login(client, "marie")
    page = client.get("/habilitations")
    assert page.status_code == 200 and 'id="grant-form"' in page.text
    body = {"organisation": "mairie.35238", "name": "Paul Adjoint", "email": "adjoint@rennes.example",
            "position": "Adjoint au maire"}
    assert client.post("/habilitations", data=body).status_code == 403  # the session cookie alone: refused
    done = client.post("/habilitations", data={**body, "csrf": _csrf(page.text)}, follow_redirects=False)
    assert done.status_code == 303, done.text
    [member] = [m for m in services.directory.members(["mairie.35238"]) if m.email == "adjoint@rennes.example"]
    [stored] = services.store.recorder.select_events(UUID(member.grant_id))
    by = services.store.mapper.to_domain_event(stored).by
    assert by["organisation_id"] == "prefecture.35" and by["grant_id"] == oidc_stack.directory.id("pref")
