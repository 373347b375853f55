"""A case as a person reads it (issue #22): the situation in words for every role, the data about people
for those who may see it, resources in plain French, a chronology that says what each message changed."""

from __future__ import annotations

import json

from adapters.ingest.ingestion import Incoming
from projections.read.case import case_view
from tests.support.wire import FIRE_CASE, as_json, example, wire

NAMES = ["RC-EDA/RC-EDA_Incendie_RaymondeLECCIA.01",
         *(f"RC-RI/RC-RI_Incendie_RaymondeLECCIA.0{i}" for i in range(2, 9))]


def _ingest(services, extra: tuple[tuple[str, dict], ...] = ()) -> None:
    messages = [example(name) for name in NAMES] + list(extra)
    services.ingestor.ingest_batch([
        Incoming(as_json(wire(kind, use_case, distribution_id=f"fr.fire.sis35_read{i:03d}",
                              sent_at=f"2024-08-13T10:{20 + i}:00+02:00")), "application/json", source="test")
        for i, (kind, use_case) in enumerate(messages)
    ])


def _readable(services, *, personal: bool) -> dict:
    view = case_view(services.store, services.geography, FIRE_CASE, personal=personal)
    assert view is not None
    return view.state["readable"]


def _all_text(readable: dict) -> str:
    return json.dumps(readable, ensure_ascii=False)


def test_every_role_reads_what_is_happening_and_only_some_read_about_people(services):
    _ingest(services)
    mayor = _readable(services, personal=False)
    assert mayor["title"] == "Incendie — bâtiment d’habitation"
    situation = " ".join(item["text"] for item in mayor["situation"])
    assert "a déclaré un incendie chez sa voisine" in situation
    assert "Première maison au croisement" in situation
    text = _all_text(mayor)
    for secret in ("MICHEL", "LECCIA", "Christine", "Raymonde"):
        assert secret not in text
    assert mayor["personal"] == []
    assert mayor["opened"] == "13/08/2024 10:20 (heure de Paris)"

    prefecture = _readable(services, personal=True)
    labels = {item["label"]: item["text"] for item in prefecture["personal"]}
    assert labels["Appelant"] and labels["Lien de l'appelant avec les lieux ou la victime"] == "Voisine"
    assert all("_" not in label for label in labels)
    assert not any(text.startswith(("[", "{")) for text in labels.values())


def test_resources_and_chronology_say_in_plain_french_what_changed(services):
    _ingest(services)
    readable = _readable(services, personal=False)
    text = _all_text(readable)
    for jargon in ("RC-RI", "RC-EDA", "RC-REF", "EMSI", "Case.", "UA ", "UR "):
        assert jargon not in text, jargon
    resources = {r["name"]: r for r in readable["resources"]}
    assert resources["VSR-Rea3"]["status"] == "Rentrée à la base" and resources["VSR-Rea3"]["free"]
    assert resources["VSAV 1"]["status"] == "Fin de prise en charge" and not resources["VSAV 1"]["free"]
    chronology = readable["chronology"]
    assert len(chronology) == len(NAMES)
    titles = [entry["title"] for entry in chronology]
    assert len(set(titles)) > 1 and "Moyens engagés" not in titles
    oldest = chronology[-1]
    assert oldest["title"] == "Appel reçu, affaire créée" and oldest["when"].endswith("(heure de Paris)")
    changes = [" ; ".join(entry["changes"]) for entry in reversed(chronology)]
    assert "VSR-Rea3 : déclenché" in changes[1]
    assert "VSR-Rea3 : début d’intervention" in changes[2]
    assert changes[3] == "rien de nouveau"
    assert "VSAV 2 : déclenché" in changes[6]
    assert "VSR-Rea3 : rentrée à la base" in changes[7]
    assert readable["all_resources_back"] is False


def test_a_case_whose_resources_are_all_back_at_base_says_so(services):
    kind, last = example("RC-RI/RC-RI_Incendie_RaymondeLECCIA.08")
    for resource in last["resource"]:
        resource["state"]["status"] = "REN-BASE"
        resource["state"]["datetime"] = "2026-03-13T11:30:00+02:00"
    _ingest(services, ((kind, last),))
    readable = _readable(services, personal=False)
    assert readable["all_resources_back"] is True
    assert "tous les moyens sont rentrés" in readable["status_text"]


def test_the_case_list_puts_the_most_serious_first_by_default(services):
    """Issue #22: what needs attention first. The newest first stays available (`sort="recent"`)."""
    from adapters.simulator import simulate
    from domain.geography import Level
    from projections.read.queries import case_list
    from projections.store.worker import ProjectionWorker

    services.ingestor.ingest_batch([Incoming(m.raw, m.content_type, source="sim")
                                    for m in simulate("storm", size=400, seed=4)])
    with ProjectionWorker(services.store) as worker:
        worker.catch_up()
    ranked = case_list(services.store, Level.NATIONAL, "FR", limit=200, geography=services.geography)
    severities = [c["severity"] for c in ranked]
    assert severities == sorted(severities, reverse=True) and severities[0] > severities[-1]
    recent = case_list(services.store, Level.NATIONAL, "FR", limit=200, sort="recent", geography=services.geography)
    opened = [c["opened_at"] for c in recent if c["opened_at"]]
    assert opened == sorted(opened, reverse=True)


def test_the_view_json_carries_the_open_cases_victims_apart(services):
    """`/api/v1/views/…` and `tocsin view --json` read `victims.open` (issue #22, item 1)."""
    from adapters.simulator import simulate
    from domain.geography import Level
    from projections.read.queries import case_list, territory_view
    from projections.store.worker import ProjectionWorker
    from projections.territory import DECLARING_VICTIMS

    services.ingestor.ingest_batch([Incoming(m.raw, m.content_type, source="sim")
                                    for m in simulate("storm", size=300, seed=6)])
    with ProjectionWorker(services.store) as worker:
        worker.catch_up()
    view = territory_view(services.store, Level.NATIONAL, "FR", geography=services.geography)
    live = view["victims"]["open"]
    rows = case_list(services.store, Level.NATIONAL, "FR", status="open", limit=1000, geography=services.geography)
    assert live["cases"] == len(rows) == view["cases_active"]
    assert live["cases_with_declared_victims"] == sum(1 for r in rows if r["victims_count"] in DECLARING_VICTIMS)
    assert live["triage"]["red"] == sum(r["red"] for r in rows)
    assert live["headline"]
