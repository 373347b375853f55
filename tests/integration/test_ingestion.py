"""Ingestion into the real PostgreSQL event store: idempotent, ordered, encrypted, append-only."""

from __future__ import annotations

import hashlib
import logging
import random
import threading
import uuid
from datetime import UTC, datetime

import psycopg
import pytest
from psycopg.sql import SQL

from adapters.ingest.ingestion import Incoming, Outcome
from adapters.ingest.quarantine import get_entry, list_entries
from adapters.ingest.use_cases import retry_quarantined
from adapters.nats import gaps as stream_gaps
from adapters.services import open_services
from adapters.store.event_store import APPEND_ONLY_TABLES
from domain.identity import case_uuid, exchange_uuid
from projections.read.case import CaseView, case_view
from tests.support.wire import FIRE_CASE, as_json, as_xml, example, wire


def count(services, table: str) -> int:
    with services.store.connect() as conn:
        return conn.execute(SQL("SELECT count(*) AS n FROM {}").format(services.store.table(table))).fetchone()["n"]


def test_a_report_becomes_one_event_with_its_provenance_and_geography(services):
    raw = as_xml(wire(*example("RC-EDA/RC-EDA_Incendie_RaymondeLECCIA.01"), distribution_id="fr.fire.sis35_0001"))
    outcome = services.ingestor.ingest(Incoming(raw, "application/xml", "test"))
    assert (outcome.status, outcome.case_id) == ("accepted", FIRE_CASE)

    view = case_view(services.store, services.geography, FIRE_CASE)
    assert view is not None
    assert view.state["nature"]["code"] == "C04.02.01"
    assert view.state["family"] == "incendie"
    # 35580 is Guichen's postal code, not its INSEE code: the point settles it, and the fix is noted.
    assert view.state["where"]["commune"] == "35126"
    assert view.state["where"]["departement"] == "35"
    assert view.state["where"]["zone"] == "ouest"
    assert view.state["where"]["notes"]
    [event] = view.events
    provenance = event["provenance"]
    assert provenance["distribution_id"] == "fr.fire.sis35_0001"
    assert provenance["sha256"] == hashlib.sha256(raw).hexdigest()
    assert provenance["encoding"] == "xml"
    assert "personal" not in view.state and "personal" not in event["facts"]


def test_the_same_message_twice_gives_one_event_whatever_its_encoding(services):
    w = wire(*example("RC-EDA/RC-EDA_Incendie_RaymondeLECCIA.01"))
    outcomes = [
        services.ingestor.ingest(Incoming(as_json(w), "application/json")),
        services.ingestor.ingest(Incoming(as_json(w), "application/json")),
        services.ingestor.ingest(Incoming(as_xml(w), "application/xml")),
    ]
    assert [o.status for o in outcomes] == ["accepted", "duplicate", "duplicate"]
    assert count(services, "tocsin_events") == 1


def test_duplicates_inside_one_batch_are_recorded_once(services):
    raw = as_json(wire(*example("RC-EDA/RC-EDA_Incendie_RaymondeLECCIA.01")))
    outcomes = services.ingestor.ingest_batch([Incoming(raw), Incoming(raw)])
    assert [o.status for o in outcomes] == ["accepted", "duplicate"]
    assert count(services, "tocsin_events") == 1


def test_resources_before_their_case_are_kept_and_the_case_stays_consistent(services):
    resources = as_json(wire(*example("RC-RI/RC-RI_Incendie_RaymondeLECCIA.03"), sent_at="2024-08-13T10:30:00+02:00"))
    report = as_json(wire(*example("RC-EDA/RC-EDA_Incendie_RaymondeLECCIA.01"), sent_at="2024-08-13T10:21:00+02:00"))
    assert services.ingestor.ingest(Incoming(resources)).status == "accepted"
    assert services.ingestor.ingest(Incoming(report)).status == "accepted"
    view = case_view(services.store, services.geography, FIRE_CASE)
    assert view is not None
    assert [e["version"] for e in view.events] == [1, 2]
    assert [e["type"] for e in view.events] == ["Case.ResourcesUpdated", "Case.Reported"]
    assert view.state["nature"]["code"] == "C04.02.01"
    [resource] = view.state["resources"].values()
    assert resource["status"] == "DEPART" and resource["kind"] == "VSR"


def test_an_acknowledgement_goes_on_the_case_of_the_message_it_acknowledges(services):
    report = wire(*example("RC-EDA/RC-EDA_Incendie_RaymondeLECCIA.01"))
    services.ingestor.ingest(Incoming(as_json(report)))
    ack = as_json(wire("reference", {"distributionID": report["distributionID"], "step": "RECU"}))
    outcome = services.ingestor.ingest(Incoming(ack))
    assert (outcome.status, outcome.case_id) == ("accepted", FIRE_CASE)
    view = case_view(services.store, services.geography, FIRE_CASE)
    assert view is not None and view.state["acknowledgements"] == 1


def test_an_acknowledgement_of_an_unknown_message_is_kept_apart_not_guessed(services):
    ack = as_json(wire("reference", {"distributionID": "fr.health.samu35_inconnu", "step": "RECU"}))
    outcome = services.ingestor.ingest(Incoming(ack))
    assert (outcome.status, outcome.case_id) == ("accepted", None)
    exchange = services.store.repository.get(exchange_uuid("fr.health.samu35_inconnu"))
    assert len(exchange.acknowledgements) == 1


def test_invalid_input_is_quarantined_with_reasons_and_can_be_retried_after_a_fix(services, caplog):
    kind, use_case = example("RC-EDA/RC-EDA_Incendie_RaymondeLECCIA.01")
    del use_case["qualification"]
    broken = wire(kind, use_case, distribution_id="fr.fire.sis35_broken")
    with caplog.at_level(logging.WARNING, logger="adapters.ingest.ingestion"):
        outcome = services.ingestor.ingest(Incoming(as_json(broken), "application/json", "test"))
    assert outcome.status == "quarantined"
    assert any("qualification" in r["message"] or "qualification" in r["path"] for r in outcome.reasons)
    assert "message quarantined (test)" in caplog.text and "qualification" in caplog.text
    [entry] = list_entries(services.store)
    assert entry.id == outcome.quarantine_id and entry.distribution_id == "fr.fire.sis35_broken"
    found = get_entry(services.store, entry.id)
    assert found is not None and found[1] == as_json(broken)

    retried = retry_quarantined(services.ingestor, entry.id)
    assert retried is not None and retried.status == "quarantined"  # unchanged bytes still fail
    fixed = as_json(wire(*example("RC-EDA/RC-EDA_Incendie_RaymondeLECCIA.01"), distribution_id="fr.fire.sis35_broken"))
    retried = retry_quarantined(services.ingestor, entry.id, fixed)
    assert retried is not None and retried.status == "accepted"
    assert list_entries(services.store) == []
    [resolved] = list_entries(services.store, include_resolved=True)
    assert (resolved.status, resolved.resolution, resolved.attempts) == ("reingested", "fr.fire.sis35_broken", 2)


HOSTILE = [
    b"",
    b"\xff\xfe<\x00x\x00",
    b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]><x>&b;</x>',
    b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>',
    b"{" * 100_000,
    b'{"distributionID": 1}',
    b"x" * 2_000_000,
]


@pytest.mark.parametrize(
    "raw", HOSTILE, ids=["empty", "utf16", "billion-laughs", "xxe", "deep-json", "wrong-types", "oversized"]
)
def test_hostile_or_broken_input_never_crashes_and_is_kept(services, raw):
    outcome = services.ingestor.ingest(Incoming(raw, None, "test"))
    assert outcome.status == "quarantined" and outcome.reasons
    found = get_entry(services.store, outcome.quarantine_id)
    assert found is not None
    entry, body = found
    assert body == raw and entry.size == len(raw)


def test_payloads_and_raw_messages_are_encrypted_at_rest(services):
    raw = as_json(wire(*example("RC-EDA/RC-EDA_Incendie_RaymondeLECCIA.01")))
    assert b"Christine" in raw and b"+33608310965" in raw
    services.ingestor.ingest(Incoming(raw))
    with services.store.connect() as conn:
        events, raws = services.store.table("tocsin_events"), services.store.table("tocsin_raw_messages")
        states = [bytes(r["state"]) for r in conn.execute(SQL("SELECT state FROM {}").format(events))]
        bodies = [bytes(r["body"]) for r in conn.execute(SQL("SELECT body FROM {}").format(raws))]
    for stored in states + bodies:
        assert b"Christine" not in stored and b"+33608310965" not in stored and b"Michel" not in stored
    assert services.store.unseal(bodies[0]) == raw
    view = case_view(services.store, services.geography, FIRE_CASE, personal=True)
    assert view is not None
    personal = view.state["personal"]
    assert personal["caller_name"] == "Christine Michel"


@pytest.mark.parametrize("table", APPEND_ONLY_TABLES)
@pytest.mark.parametrize(
    "statement",
    ["UPDATE {} SET originator_version = originator_version", "DELETE FROM {}", "TRUNCATE {}"],
    ids=["update", "delete", "truncate"],
)
def test_the_history_is_append_only_in_the_database_itself(services, table, statement):
    services.ingestor.ingest(Incoming(as_json(wire(*example("RC-EDA/RC-EDA_Incendie_RaymondeLECCIA.01")))))
    stream_gaps.record(services.store, "nats:TEST", datetime.now(UTC), [(3, 5)])
    column = {"tocsin_raw_messages": "body", "tocsin_stream_gaps": "last_seq", "tocsin_case_parties": "party"}.get(
        table, "originator_version"
    )
    statement = statement.replace("originator_version = originator_version", f"{column} = {column}")
    rows = count(services, table)  # one of each, but two parties (the sender and its addressee)
    assert rows == (2 if table == "tocsin_case_parties" else 1)
    with services.store.connect() as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="ajout seul"):
            conn.execute(SQL(statement).format(services.store.table(table)))
    assert count(services, table) == rows


def test_two_ingesters_at_once_record_every_message_exactly_once(settings):
    first, second = open_services(settings), open_services(settings)
    try:
        raws = []
        for i in range(40):
            kind, use_case = example("RC-RI/RC-RI_Incendie_RaymondeLECCIA.03")
            use_case["caseId"] = f"fr.fire.sis35.cgo-35.SC-{i % 5}"
            raws.append(as_json(wire(kind, use_case, distribution_id=f"fr.fire.sis35_{i:04d}")))
        results: dict[str, list] = {}
        errors: list[BaseException] = []

        def run(name, services):
            try:
                results[name] = [o for raw in raws for o in services.ingestor.ingest_batch([Incoming(raw)] * 2)]
            except BaseException as error:  # noqa: BLE001 - surfaced below, in the test's thread
                errors.append(error)

        threads = [threading.Thread(target=run, args=(n, s)) for n, s in (("a", first), ("b", second))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        accepted = [o for outcomes in results.values() for o in outcomes if o.status == "accepted"]
        assert sorted(o.distribution_id for o in accepted) == sorted(f"fr.fire.sis35_{i:04d}" for i in range(40))
        for case in range(5):
            events = list(first.store.events.get(case_uuid(f"fr.fire.sis35.cgo-35.SC-{case}")))
            assert [e.originator_version for e in events] == list(range(1, 9))
    finally:
        first.close()
        second.close()


RENNES, BREST = "35238", "29019"
SDIS35, SAMU35, SDIS29 = "fr.fire.sis35.cgo-35", "fr.health.samu35", "fr.fire.sis29.cgo-29"


def _report(geography, insee: str, case_id: str, sender: str, sent_at: str, seed: int) -> bytes:
    """An RC-EDA placed in `insee`, from `sender` to SAMU 35 (or to SDIS 35 when SAMU 35 sends it)."""
    w = wire(*example("RC-EDA/RC-EDA_Incendie_RaymondeLECCIA.01"), sender_id=sender, sent_at=sent_at)
    use_case = w["content"][0]["jsonContent"]["embeddedJsonContent"]["message"]["createCase"]
    use_case["caseId"] = case_id
    lat, lon = geography.random_point_in(insee, random.Random(seed))
    use_case["location"]["city"] = {"name": geography.name("commune", insee), "inseeCode": insee}
    use_case["location"]["geometry"]["point"]["coord"].update({"lat": round(lat, 7), "lon": round(lon, 7)})
    if sender == SAMU35:
        w["descriptor"]["explicitAddress"]["explicitAddressValue"] = SDIS35
    return as_json(w)


def _view(services, case_id: str) -> CaseView:
    view = case_view(services.store, services.geography, case_id)
    assert view is not None
    return view


def _retried(services, entry_id: int | None) -> Outcome:
    assert entry_id is not None
    outcome = retry_quarantined(services.ingestor, entry_id)
    assert outcome is not None
    return outcome


def test_only_the_parties_of_a_case_may_update_it(services):
    case_id = f"{SDIS35}.SC-parties-1"
    first = _report(services.geography, RENNES, case_id, SDIS35, "2024-08-13T10:21:00+02:00", 1)
    assert services.ingestor.ingest(Incoming(first)).status == "accepted"

    # SDIS 29 was never addressed on this case: its later message, placed in Brest, is not applied.
    stranger = _report(services.geography, BREST, case_id, SDIS29, "2024-08-13T10:40:00+02:00", 2)
    outcome = services.ingestor.ingest(Incoming(stranger))
    assert outcome.status == "quarantined" and outcome.quarantine_id is not None
    [reason] = outcome.reasons
    assert reason["code"] == "not-a-party" and reason["path"] == "$.senderID"
    assert "descriptor.explicitAddress" in reason["message"] and "tocsin quarantine retry" in reason["message"]
    assert SDIS29 not in reason["message"] and case_id not in reason["message"]  # the field and the rule, no value
    view = _view(services, case_id)
    assert view.state["where"]["commune"] == RENNES and view.state["messages"] == 1
    assert count(services, "tocsin_messages") == 1
    # Retrying re-checks the rule: still not a party, still not applied.
    assert _retried(services, outcome.quarantine_id).status == "quarantined"
    assert _view(services, case_id).state["where"]["commune"] == RENNES

    # SAMU 35, the first message's addressee, is a party: its update applies.
    partner = _report(services.geography, RENNES, case_id, SAMU35, "2024-08-13T10:50:00+02:00", 3)
    assert services.ingestor.ingest(Incoming(partner)).status == "accepted"
    view = _view(services, case_id)
    assert view.state["messages"] == 2 and view.state["where"]["commune"] == RENNES
    assert [e["provenance"]["recipients"] for e in view.events] == [[SAMU35], [SDIS35]]


def test_a_stranger_is_refused_inside_a_batch_too_and_a_partner_may_open_the_case(services):
    """The first message to arrive founds the case, whichever use case it is (an RC-RI of the partner
    overtaking the RC-EDA); in one batch, a stranger is refused as the batch goes."""
    case_id = f"{SDIS35}.SC-parties-2"
    kind, resources = example("RC-RI/RC-RI_Incendie_RaymondeLECCIA.02")
    resources["caseId"] = case_id
    early = wire(kind, resources, sender_id=SAMU35, sent_at="2024-08-13T10:25:00+02:00")
    early["descriptor"]["explicitAddress"]["explicitAddressValue"] = SDIS35
    batch = [
        Incoming(as_json(early)),
        Incoming(_report(services.geography, BREST, case_id, SDIS29, "2024-08-13T10:30:00+02:00", 4)),
        Incoming(_report(services.geography, RENNES, case_id, SDIS35, "2024-08-13T10:21:00+02:00", 5)),
    ]
    outcomes = services.ingestor.ingest_batch(batch)
    assert [o.status for o in outcomes] == ["accepted", "quarantined", "accepted"]
    assert outcomes[1].reasons[0]["code"] == "not-a-party" and outcomes[1].quarantine_id is not None
    assert _view(services, case_id).state["where"]["commune"] == RENNES
    case = services.store.repository.get(case_uuid(case_id))
    assert case.parties == {SDIS35, SAMU35}


def test_a_simulated_storm_is_exchanged_between_parties_only(services):
    """The simulator's partners address each other as CISU partners do: the rule refuses none of them,
    late RC-EDA, acknowledgements and duplicates included."""
    from tests.support.nats_harness import simulated

    messages = simulated(3000, seed=13)
    outcomes = []
    for start in range(0, len(messages), 250):
        chunk = messages[start : start + 250]
        outcomes += services.ingestor.ingest_batch([Incoming(m.raw, m.content_type, "sim") for m in chunk])
    refused = [o for o in outcomes if any(r["code"] == "not-a-party" for r in o.reasons)]
    assert not refused
    assert sum(o.status == "accepted" for o in outcomes) > 2500


def test_a_partner_brought_in_later_is_applied_on_retry_once_a_party_addressed_it(services):
    case_id = f"{SDIS35}.SC-parties-3"
    police = "fr.police.ddsp35"
    founding = _report(services.geography, RENNES, case_id, SDIS35, "2024-08-13T10:21:00+02:00", 6)
    assert services.ingestor.ingest(Incoming(founding)).status == "accepted"
    # The police's message overtakes the one that brings the police in: it waits in quarantine.
    early = wire(*example("RC-EDA/RC-EDA_Incendie_RaymondeLECCIA.01"), sender_id=police,
                 sent_at="2024-08-13T10:45:00+02:00")
    early["content"][0]["jsonContent"]["embeddedJsonContent"]["message"]["createCase"]["caseId"] = case_id
    early["descriptor"]["explicitAddress"]["explicitAddressValue"] = SDIS35
    waiting = services.ingestor.ingest(Incoming(as_json(early)))
    assert waiting.status == "quarantined" and waiting.reasons[0]["code"] == "not-a-party"
    bringing_in = wire(*example("RC-EDA/RC-EDA_Incendie_RaymondeLECCIA.01"), sender_id=SDIS35,
                       sent_at="2024-08-13T10:40:00+02:00")
    message = bringing_in["content"][0]["jsonContent"]["embeddedJsonContent"]["message"]
    message["createCase"]["caseId"] = case_id
    bringing_in["descriptor"]["explicitAddress"]["explicitAddressValue"] = police
    assert services.ingestor.ingest(Incoming(as_json(bringing_in))).status == "accepted"
    assert _retried(services, waiting.quarantine_id).status == "accepted"
    assert [e.status for e in list_entries(services.store, include_resolved=True)] == ["reingested"]
    assert services.store.repository.get(case_uuid(case_id)).parties == {SDIS35, SAMU35, police}


def test_the_store_stays_usable_after_batches_refused_by_a_concurrent_write(services):
    """A batch refused because another ingester recorded one of its messages first (a unique violation,
    in the middle of the library's pipelined transaction) must leave every pooled connection usable, for
    however many batches: the statements skipped after the violation once left psycopg believing one of
    them prepared ("prepared statement _pg3_N does not exist" on the next batch; see ColumnArrayRecorder)."""
    from eventsourcing.persistence import IntegrityError, StoredEvent

    from adapters.store.event_store import MessageRow

    def message(i: int) -> bytes:
        kind, use_case = example("RC-RI/RC-RI_Incendie_RaymondeLECCIA.03")
        use_case["caseId"] = f"fr.fire.sis35.cgo-35.SC-P{i}"
        return as_json(wire(kind, use_case, distribution_id=f"fr.fire.sis35_p{i:04d}"))

    n = 0
    for _ in range(8):  # enough batches for each pooled connection to reach psycopg's preparing threshold
        for _ in range(7):
            assert services.ingestor.ingest(Incoming(message(n))).status == "accepted"
            n += 1
        # What a second ingester's commit sends when the first recorded its message in the meantime.
        taken = f"fr.fire.sis35_p{n - 1:04d}"
        other = uuid.uuid4()
        row = MessageRow(taken, other, 1, None, "reported", None, None, datetime.now(UTC), b"\0" * 32, "test")
        with pytest.raises(IntegrityError):
            services.store.recorder.insert_events(
                [StoredEvent(other, 1, "tocsin.test", b"x")], messages=[row], raws=[(b"\1" * 32, b"x")],
                parties=[], position=None)
    for _ in range(8):
        assert services.ingestor.ingest(Incoming(message(n))).status == "accepted"
        n += 1
