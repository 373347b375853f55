"""An organisation's alert settings through the HTTP API: its own people change them, stricter only; the
authorities above read them; others get a 404 like an unknown organisation."""

from __future__ import annotations

from pydantic import TypeAdapter

from api import schemas
from tests.support.api import GUICHEN, bearer, client_for

URL = f"/api/v1/organisations/mairie.{GUICHEN}/alert-rules"


def test_a_mayor_tunes_the_mairie_alerts_within_what_is_required(services):
    services.ensure_directory()
    with client_for(services) as (client, config):
        mayor = bearer(config, "mayor", f"commune:{GUICHEN}")
        sooner = {"tunings": [{"rule_id": "mairie-nouvelle-affaire", "escalate_after_minutes": 5,
                               "extra_channels": ["push"]}],
                  "own_rules": [{"label": "Évacuations", "evacuation": True}]}
        changed = client.put(URL, json=sooner, headers=mayor)
        assert changed.status_code == 200, changed.text
        out = TypeAdapter(schemas.AlertSettingsOut).validate_python(changed.json())
        [rule] = out.required
        assert rule["escalation"][0]["after_minutes"] == 5 and rule["channels"] == ["email", "push"]
        assert out.changed_by is not None and out.changed_by["role"] == "mayor"
        assert out.own_rules[0]["id"] == f"mairie.{GUICHEN}:evacuations"

        # A change made from the version read is refused once another landed since, rather than undo it.
        stale = client.put(URL, json={**sooner, "own_rules": [], "version": out.version - 1}, headers=mayor)
        assert stale.status_code == 409 and "modifiées entre-temps" in stale.json()["detail"]
        assert client.put(URL, json={**sooner, "version": out.version}, headers=mayor).status_code == 200
        out = TypeAdapter(schemas.AlertSettingsOut).validate_python(client.get(URL, headers=mayor).json())

        later = {"tunings": [{"rule_id": "mairie-nouvelle-affaire", "escalate_after_minutes": 60}]}
        refused = client.put(URL, json=later, headers=mayor)
        assert refused.status_code == 422 and "pas la retarder" in refused.json()["detail"]

        # The préfecture above reads them, does not change them; another mairie sees nothing.
        prefecture = bearer(config, "prefecture", "departement:35")
        assert client.get(URL, headers=prefecture).json()["version"] == out.version
        assert client.put(URL, json=sooner, headers=prefecture).status_code == 403
        rennes = bearer(config, "mayor", "commune:35238")
        assert client.get(URL, headers=rennes).status_code == 404
        assert client.put(URL, json=sooner, headers=rennes).status_code == 404
        assert client.get("/api/v1/organisations/mairie.00000/alert-rules", headers=mayor).status_code == 404
