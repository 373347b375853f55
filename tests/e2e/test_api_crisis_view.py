"""A crisis's view through the HTTP API: the cases the attacher (running in the app, as with `tocsin serve`)
attached as they arrived, their figures as the territory views count them, scoped by the reader's
perimeter (a mayor reads its commune's share), without personal data; 404 outside, like an unknown crisis."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from pydantic import TypeAdapter

from adapters.ingest.ingestion import Incoming
from api import schemas
from tests.support.api import BREST, GUICHEN, RENNES, app_of, bearer, client_for, report_in, wait_for_views


def test_the_view_shows_the_attached_cases_within_the_readers_perimeter(services):
    with client_for(services) as (client, config):
        prefet = bearer(config, "prefecture", "departement:35")
        start = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
        opened = client.post("/api/v1/crises", headers=prefet, json={
            "title": "Feux de landes", "kind": "wildfire", "territory": "departement:35", "start": start})
        assert opened.status_code == 200, opened.text
        crisis_id = opened.json()["id"]
        for n, insee in enumerate((RENNES, GUICHEN, BREST)):
            raw = report_in(services.geography, insee, f"fr.fire.vue.{n}", seed=n, victims="PLUSIEURS")
            assert services.ingestor.ingest(Incoming(raw)).status == "accepted"
        deadline = time.monotonic() + 20
        while len(client.get(f"/api/v1/crises/{crisis_id}", headers=prefet).json()["cases"]) < 2:
            assert time.monotonic() < deadline, "the attacher did not attach the cases"
            time.sleep(0.1)
        attached = client.post(f"/api/v1/crises/{crisis_id}/cases", json={"case_id": "fr.inconnue.1"}, headers=prefet)
        assert attached.status_code == 200
        wait_for_views(app_of(client).state.read_model, services)

        seen = client.get(f"/api/v1/crises/{crisis_id}/view", headers=prefet)
        assert seen.status_code == 200, seen.text
        view = TypeAdapter(schemas.CrisisView).validate_python(seen.json())
        assert view.whole_perimeter and not view.crisis.exercise and view.crisis.kind_label == "Feu de forêt"
        assert view.crisis.time_zone == "Europe/Paris" and "(heure de Paris)" in view.crisis.start_text
        assert sorted(c.case_id for c in view.cases) == ["fr.fire.vue.0", "fr.fire.vue.1"]  # not Brest's
        assert {c.attached_how for c in view.cases} == {"règle"}
        assert all(c.lat is not None and c.lon is not None for c in view.cases)  # on the map
        assert (view.figures.cases_total, view.figures.cases_active) == (2, 2)
        assert [f.label for f in view.figures.families] == ["Incendie"]
        assert view.figures.victims.open.cases_with_declared_victims == 2
        assert view.cases_left_out == 0
        short = client.get(f"/api/v1/crises/{crisis_id}/view", params={"limit": 1}, headers=prefet).json()
        assert len(short["cases"]) == 1 and short["cases_left_out"] == 1 and short["figures"]["cases_total"] == 2
        assert client.get(f"/api/v1/crises/{crisis_id}/view", params={"limit": -1}, headers=prefet
                          ).status_code == 422
        assert [p.case_id for p in view.pending] == ["fr.inconnue.1"]  # attached by hand, no message carries it
        assert view.pending[0].attached_how == "manuel" and view.pending[0].attached_by

        # A mayor of the département takes part: its commune's share, and nothing of who called or is hurt.
        rennes = client.get(f"/api/v1/crises/{crisis_id}/view", headers=bearer(config, "mayor", f"commune:{RENNES}"))
        mine = TypeAdapter(schemas.CrisisView).validate_python(rennes.json())
        assert [c.case_id for c in mine.cases] == ["fr.fire.vue.0"] and mine.figures.cases_total == 1
        assert not mine.whole_perimeter and mine.pending == []
        for secret in ("LECCIA", "Raymonde", "MICHEL", "personal", "caller"):
            assert secret not in rennes.text, secret
        # The crisis itself names to the mayor only the cases of its perimeter, not the ids of the others.
        mayor = bearer(config, "mayor", f"commune:{RENNES}")
        crisis = client.get(f"/api/v1/crises/{crisis_id}", headers=mayor).json()
        [listed] = client.get("/api/v1/crises", headers=mayor).json()["items"]
        assert [c["case_id"] for c in crisis["cases"]] == [c["case_id"] for c in listed["cases"]] == ["fr.fire.vue.0"]
        assert len(client.get(f"/api/v1/crises/{crisis_id}", headers=prefet).json()["cases"]) == 3
        national = client.get(f"/api/v1/crises/{crisis_id}/view", headers=bearer(config, "national", "national:FR"))
        assert national.json()["figures"]["cases_total"] == 2 and national.json()["whole_perimeter"]

        # Outside the crisis's territory, or no crisis at all: the same 404.
        brest = bearer(config, "mayor", f"commune:{BREST}")
        assert client.get(f"/api/v1/crises/{crisis_id}/view", headers=brest).status_code == 404
        assert client.get("/api/v1/crises/00000000-0000-0000-0000-000000000000/view", headers=prefet
                          ).status_code == 404
        assert client.get(f"/api/v1/crises/{crisis_id}/view").status_code == 401


def test_crisis_events_reach_those_who_take_part_and_no_one_else(services):
    import threading

    import httpx

    from tests.e2e.test_alerts import _collect, wait_for
    from tests.support.api import LiveServer

    with LiveServer(services) as server:
        prefet = bearer(server.config, "prefecture", "departement:35")
        streams = {"rennes": f"commune:{RENNES}", "brest": f"commune:{BREST}"}
        received: dict[str, list] = {name: [] for name in streams}
        stop = threading.Event()
        for name, territory in streams.items():
            ready = threading.Event()
            threading.Thread(target=_collect, args=(server.url + "/api/v1/stream",
                                                    bearer(server.config, "mayor", territory), received[name],
                                                    ready, stop), daemon=True).start()
            assert ready.wait(10)
        with httpx.Client(base_url=server.url, headers=prefet, timeout=10) as client:
            crisis_id = client.post("/api/v1/crises", json={"title": "Crue", "kind": "flood",
                                                            "territory": "departement:35"}).json()["id"]
            client.post(f"/api/v1/crises/{crisis_id}/cases", json={"case_id": "FR.35.1"})
            client.post(f"/api/v1/crises/{crisis_id}/close", json={"summary": "Décrue"})

        def seen(name: str) -> list[tuple[str, int]]:
            return [(d["status"], d["cases"]) for e, d in received[name] if e == "crisis" and d["id"] == crisis_id]

        # Acts close together may come as one event: the crisis as it stands then (a page reads its view again).
        wait_for(lambda: ("close", 1) in seen("rennes"))
        stop.set()
        assert not any(e == "crisis" for e, _ in received["brest"])
