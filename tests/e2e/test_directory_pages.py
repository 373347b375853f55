"""The directory's pages against a live server: « Annuaire » (scoped, searchable, tap to call or write
where contacts may be shown) and « Habilitations » (grant and revoke by form, with CSRF, for those who
grant only; out-of-scope organisations refused)."""

from __future__ import annotations

import re

import httpx

from adapters.directory.use_cases import import_csv
from tests.support.api import LiveServer

CSV = """organisation_kind,territory,organisation_name,person_name,position,email,phone
mairie,commune:35238,,Maire Rennes,Maire,maire@rennes.example,02 23 62 10 10
prefecture,departement:35,,Chef Sidpc,Chef du SIDPC,sidpc@ille.example,
mairie,commune:29019,,Maire Brest,Maire,maire@brest.example,
"""
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def _csrf(page: str) -> str:
    found = CSRF.search(page)
    assert found, "no CSRF token in the page"
    return found.group(1)


def _browser(server: LiveServer, role: str, territory: str) -> httpx.Client:
    client = httpx.Client(base_url=server.url)
    client.cookies.set("tocsin_token", server.config.mint(role, territory))
    return client


def test_the_directory_page_lists_my_territory_and_above_with_links_to_call_and_write(services) -> None:
    import_csv(services, CSV)
    with LiveServer(services) as server, _browser(server, "mayor", "commune:35238") as mayor:
        assert httpx.get(server.url + "/annuaire", follow_redirects=False).headers["location"] == "/connexion"
        assert 'href="/annuaire"' in mayor.get("/").text
        assert 'href="/habilitations"' not in mayor.get("/").text
        page = mayor.get("/annuaire")
        assert page.status_code == 200 and "<script>" not in page.text
        text = page.text
        assert "Mairie de Rennes" in text and 'data-organisation="prefecture.35"' in text
        assert 'href="tel:0223621010"' in text and 'href="mailto:maire@rennes.example"' in text
        assert 'href="mailto:sidpc@ille.example"' in text
        assert "Brest" not in text  # a neighbour's, not mine
        found = mayor.get("/annuaire", params={"q": "sidpc"}).text  # accents and case ignored
        assert "Chef Sidpc" in found and "Maire Rennes" not in found
        assert 'id="no-result"' in mayor.get("/annuaire", params={"q": "personne-de-ce-nom"}).text
        with _browser(server, "analyst", "departement:35") as analyst:
            seen = analyst.get("/annuaire").text
            assert "Chef Sidpc" in seen and "mailto:" not in seen and "tel:" not in seen


def test_habilitations_are_granted_and_revoked_by_form_by_those_who_grant_only(services) -> None:
    import_csv(services, CSV)
    with LiveServer(services) as server, _browser(server, "prefecture", "departement:35") as prefecture, \
            _browser(server, "mayor", "commune:35238") as mayor:
        # A mayor grants nothing: neither the page nor the form.
        refused = mayor.get("/habilitations")
        assert refused.status_code == 403 and "Accès refusé" in refused.text
        mayor_csrf = _csrf(mayor.get("/").text)
        assert mayor.post("/habilitations", data={"csrf": mayor_csrf, "organisation": "mairie.35238",
                                                  "name": "X", "email": "x@x.example", "position": "Maire"}
                          ).status_code == 403
        assert 'href="/habilitations"' in prefecture.get("/").text
        page = prefecture.get("/habilitations")
        assert page.status_code == 200 and 'id="grant-form"' in page.text
        assert 'value="mairie.35238"' in page.text and "mairie.29019" not in page.text
        assert "Maire Rennes" in page.text
        csrf = _csrf(page.text)
        body = {"organisation": "mairie.35238", "name": "Paul Adjoint", "email": "adjoint@rennes.example",
                "position": "Adjoint au maire", "until": "2099-12-31"}
        assert prefecture.post("/habilitations", data=body).status_code == 403  # no CSRF token
        assert prefecture.post("/habilitations", data={**body, "csrf": "forged"}).status_code == 403
        assert prefecture.post("/habilitations", data={**body, "csrf": mayor_csrf}).status_code == 403
        cross = prefecture.post("/habilitations", data={**body, "csrf": csrf},
                                headers={"Origin": "https://evil.example"})
        assert cross.status_code == 403
        out_of_scope = prefecture.post("/habilitations", data={**body, "csrf": csrf, "organisation": "mairie.29019"})
        assert out_of_scope.status_code == 403 and "Habilitation refusée" in out_of_scope.text
        bad = prefecture.post("/habilitations", data={**body, "csrf": csrf, "position": "Préfet"})
        assert bad.status_code == 422 and "n&#x27;existe pas" in bad.text
        done = prefecture.post("/habilitations", data={**body, "csrf": csrf}, follow_redirects=False)
        assert done.status_code == 303, done.text
        listing = prefecture.get(done.headers["location"]).text
        assert "Habilitation enregistrée." in listing and "Paul Adjoint" in listing
        [member] = [m for m in services.directory.members(["mairie.35238"]) if m.email == "adjoint@rennes.example"]
        assert member.position == "Adjoint au maire" and member.until.year == 2099
        assert member.granted_by is not None
        assert f'data-grant="{member.grant_id}"' in listing
        revocation = f"/habilitations/{member.grant_id}/revocation"
        assert prefecture.post(revocation, data={}).status_code == 403
        assert services.directory.active(member.grant_id) is not None
        assert mayor.post(revocation, data={"csrf": mayor_csrf}).status_code == 403
        gone = prefecture.post(revocation, data={"csrf": csrf}, follow_redirects=False)
        assert gone.status_code == 303 and services.directory.active(member.grant_id) is None
        assert "Habilitation retirée" in prefecture.get(gone.headers["location"]).text
        assert "Paul Adjoint" not in prefecture.get("/habilitations").text


def test_the_mayor_keeps_the_mairies_on_duty_schedule_from_the_directory_page(services) -> None:
    from datetime import UTC, datetime, timedelta

    from domain.local_time import PARIS

    import_csv(services, CSV + "mairie,commune:35238,,Adjointe Rennes,Adjointe au maire,adjointe@rennes.example,\n")
    now = datetime.now(UTC)
    local = lambda t: t.astimezone(PARIS).strftime("%Y-%m-%dT%H:%M")  # noqa: E731 (what a datetime-local input sends)
    with LiveServer(services) as server, _browser(server, "mayor", "commune:35238") as mayor:
        page = mayor.get("/annuaire").text
        rennes = page.split('data-duty="mairie.35238"')[1].split("</section>")[0]
        assert "personne : une alerte atteint toutes les personnes habilitées" in rennes
        assert "Début (heure de Paris)" in rennes
        prefecture_block = page.split('data-duty="prefecture.35"')[1].split("</section>")[0]
        assert "duty-form" not in prefecture_block  # a mayor does not keep the préfecture's schedule
        [adjointe] = re.findall(r'<option value="([^"]+)">Adjointe Rennes', rennes)
        form = {"csrf": _csrf(rennes), "organisation": "mairie.35238", "person": adjointe,
                "start": local(now - timedelta(minutes=5)), "end": local(now + timedelta(hours=8))}
        forged = mayor.post("/annuaire/astreintes", data={**form, "csrf": "faux"})
        assert forged.status_code == 403
        done = mayor.post("/annuaire/astreintes", data=form, follow_redirects=False)
        assert done.status_code == 303 and done.headers["location"] == "/annuaire?fait=astreinte"
        page = mayor.get("/annuaire?fait=astreinte").text
        assert "Période d&#x27;astreinte enregistrée." in page
        rennes = page.split('data-duty="mairie.35238"')[1].split("</section>")[0]
        assert 'D\'astreinte maintenant : <strong class="on-duty-now">Adjointe Rennes</strong>' in rennes
        bad = mayor.post("/annuaire/astreintes", data={**form, "end": form["start"]})
        assert bad.status_code == 422 and "doit suivre son début" in bad.text
        [period] = re.findall(r'data-period="([^"]+)"', rennes)
        removed = mayor.post(f"/annuaire/astreintes/{period}/retrait", data={"csrf": form["csrf"]},
                             follow_redirects=False)
        assert removed.status_code == 303
        assert 'data-period="' not in mayor.get("/annuaire").text
