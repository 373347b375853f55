"""« Règles d'alerte » on the « Annuaire » page against a live server (issue #19): the organisation's own
people tune its required rules (stricter only) and add or remove rules of their own by form, with CSRF; a
refusal is shown in French; another mairie's people get no form and are refused; a préfecture opens a
mairie of its département to keep its on-duty schedule."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from adapters.directory.use_cases import import_csv
from adapters.notify.alert_settings import describe
from domain.local_time import PARIS
from tests.e2e.test_directory_pages import CSV, _browser, _csrf
from tests.support.api import LiveServer

RENNES = "mairie.35238"


def block(page: str, organisation_id: str) -> str:
    return page.split(f'data-alert-rules="{organisation_id}"')[1].split("</section>")[0]


def test_the_mayor_tunes_the_required_rule_and_adds_and_removes_an_own_rule_by_form(services) -> None:
    import_csv(services, CSV)
    with LiveServer(services) as server, _browser(server, "mayor", "commune:35238") as mayor:
        page = mayor.get("/annuaire").text
        rennes = block(page, RENNES)
        assert "Nouvelle affaire dans la commune" in rennes and "Chaque nouvelle affaire" in rennes
        assert "sans accusé de réception après 15 min : la préfecture du département" in rennes
        assert "Canaux</dt><dd>courriel</dd>" in rennes
        assert "Accident de la circulation" in rennes  # the own rule's natures, in French
        assert 'data-alert-rules="prefecture.35"' not in page  # how the authority above is alerted: not the mayor's
        csrf = _csrf(rennes)
        tuning = {"csrf": csrf, "organisation": RENNES, "rule": "mairie-nouvelle-affaire",
                  "escalate_after_minutes": "5", "extra_channels": ["sms"], "grave": "1"}

        assert mayor.post("/annuaire/alertes/reglage", data={**tuning, "csrf": "faux"}).status_code == 403
        looser = mayor.post("/annuaire/alertes/reglage", data={**tuning, "escalate_after_minutes": "30"})
        assert looser.status_code == 422
        assert 'class="fr-alert fr-alert--error' in looser.text
        assert "exige une escalade au plus tard après 15 min" in looser.text
        assert describe(services.store, RENNES)["version"] == 0  # nothing recorded

        done = mayor.post("/annuaire/alertes/reglage", data=tuning, follow_redirects=False)
        assert done.status_code == 303 and done.headers["location"] == "/annuaire?fait=regles"
        page = mayor.get("/annuaire?fait=regles").text
        assert "Règles d&#x27;alerte enregistrées." in page
        rennes = block(page, RENNES)
        assert "réglée par l'organisation" in rennes and "après 5 min" in rennes
        assert "Canaux</dt><dd>courriel, SMS</dd>" in rennes and "Gravité</dt><dd>grave</dd>" in rennes
        [required] = describe(services.store, RENNES)["required"]
        assert required["tuning"]["escalate_after_minutes"] == 5 and required["severity"] == "grave"

        rule = {"csrf": csrf, "organisation": RENNES, "label": "Feux d'habitation", "families": ["incendie"],
                "min_victims": "2", "channels": ["email", "push"]}
        none = mayor.post("/annuaire/alertes/regles", data={**rule, "families": [], "min_victims": ""})
        assert none.status_code == 422 and "une règle propre pose au moins une condition" in none.text
        added = mayor.post("/annuaire/alertes/regles", data=rule, follow_redirects=False)
        assert added.status_code == 303
        [own] = describe(services.store, RENNES)["own_rules"]
        assert (own["families"], own["min_victims"], own["channels"]) == (["incendie"], 2, ["email", "push"])
        assert own["territory"] == "commune:35238"
        rennes = block(mayor.get("/annuaire").text, RENNES)
        assert "Feux d&#x27;habitation" in rennes and "au moins 2 victime(s)" in rennes
        # the tuning is kept when an own rule is added
        assert describe(services.store, RENNES)["required"][0]["tuning"]["escalate_after_minutes"] == 5

        removed = mayor.post("/annuaire/alertes/regles/retrait", data={"csrf": csrf, "organisation": RENNES,
                                                                      "rule": own["id"]}, follow_redirects=False)
        assert removed.status_code == 303 and describe(services.store, RENNES)["own_rules"] == []
        again = mayor.post("/annuaire/alertes/regles/retrait", data={"csrf": csrf, "organisation": RENNES,
                                                                    "rule": own["id"]})
        assert again.status_code == 422 and "n&#x27;existe pas" in again.text


def test_another_mairies_people_get_no_form_and_are_refused(services) -> None:
    import_csv(services, CSV)
    with LiveServer(services) as server, _browser(server, "mayor", "commune:29019") as brest, \
            _browser(server, "prefecture", "departement:35") as prefecture:
        page = brest.get("/annuaire").text
        assert 'data-alert-rules="mairie.35238"' not in page
        csrf = _csrf(block(page, "mairie.29019"))
        tuning = {"csrf": csrf, "organisation": RENNES, "rule": "mairie-nouvelle-affaire",
                  "escalate_after_minutes": "5"}
        elsewhere = brest.post("/annuaire/alertes/reglage", data=tuning)
        assert elsewhere.status_code == 404  # outside Brest's perimeter: like an unknown organisation
        assert brest.post("/annuaire/alertes/reglage", data={**tuning, "organisation": "mairie.99999"}
                          ).status_code == 404
        # The préfecture sees how Rennes is alerted but tunes nothing of it: it requires, through the rules.
        page = prefecture.get("/annuaire?commune=35238").text
        rennes = block(page, RENNES)
        assert "Nouvelle affaire dans la commune" in rennes and 'action="/annuaire/alertes/' not in rennes
        own_csrf = _csrf(block(page, "prefecture.35"))  # the préfecture's token for its own rules' forms
        above = prefecture.post("/annuaire/alertes/reglage", data={**tuning, "csrf": own_csrf})
        assert above.status_code == 403 and "seules les personnes de l&#x27;organisation" in above.text
        assert describe(services.store, RENNES)["version"] == 0


def test_a_prefecture_opens_a_mairie_of_its_departement_and_sets_its_on_duty_schedule(services) -> None:
    import_csv(services, CSV)
    now = datetime.now(UTC)
    local = lambda t: t.astimezone(PARIS).strftime("%Y-%m-%dT%H:%M")  # noqa: E731 (what a datetime-local input sends)
    with LiveServer(services) as server, _browser(server, "prefecture", "departement:35") as prefecture:
        page = prefecture.get("/annuaire").text
        assert 'data-duty="mairie.35238"' not in page  # not listed until opened
        assert re.search(r'<option value="35238">Mairie de Rennes \(35238\)</option>', page)
        assert '<option value="29019">' not in page  # another département's
        page = prefecture.get("/annuaire", params={"commune": "35238"}).text
        rennes = page.split('data-duty="mairie.35238"')[1].split("</section>")[0]
        [maire] = re.findall(r'<option value="([^"]+)">Maire Rennes', rennes)
        form = {"csrf": _csrf(rennes), "organisation": "mairie.35238", "person": maire, "commune": "35238",
                "start": local(now - timedelta(minutes=5)), "end": local(now + timedelta(hours=8))}
        done = prefecture.post("/annuaire/astreintes", data=form, follow_redirects=False)
        assert done.status_code == 303 and done.headers["location"] == "/annuaire?fait=astreinte&commune=35238"
        rennes = prefecture.get(done.headers["location"]).text.split('data-duty="mairie.35238"')[1]
        assert 'D\'astreinte maintenant : <strong class="on-duty-now">Maire Rennes</strong>' in rennes
        assert 'data-duty="mairie.29019"' not in prefecture.get("/annuaire", params={"commune": "29019"}).text
