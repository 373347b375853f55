"""Tamper evidence: a database superuser edits, deletes, reorders or forges rows by direct SQL, and
`verify_store` names the first broken position."""

from __future__ import annotations

import psycopg
import pytest
from psycopg.sql import SQL, Identifier

from adapters.ingest.ingestion import Incoming
from replay.audit import hashes as h
from replay.audit import verify as v
from replay.audit.chain import seal
from replay.audit.keys import load_signing_key, trusted_keys
from replay.audit.seals import journal_file
from tests.support.wire import as_json, example, wire

EVENTS = 8


@pytest.fixture
def chained(services, settings):
    """Eight events (one case per report plus resources on the first), sealed once."""
    for i in range(EVENTS - 1):
        _, use_case = example("RC-EDA/RC-EDA_Incendie_RaymondeLECCIA.01")
        use_case["caseId"] = f"fr.fire.sis35.cgo-35.DRFR15AUDIT{i:04d}"
        services.ingestor.ingest(Incoming(as_json(wire("createCase", use_case))))
    _, resources = example("RC-RI/RC-RI_Incendie_RaymondeLECCIA.03")
    resources["caseId"] = "fr.fire.sis35.cgo-35.DRFR15AUDIT0000"
    services.ingestor.ingest(Incoming(as_json(wire("resourcesInfoCisu", resources))))
    made = seal(services.store, load_signing_key(settings.data_dir), settings.data_dir)
    assert made is not None and made.position == EVENTS
    return services


def verify(services, settings):
    return v.verify_store(services.store, trusted_keys(settings.data_dir),
                          journal=journal_file(settings.data_dir, settings.schema))


def tamper(settings, *statements: str, params: tuple = ()) -> None:
    """Run SQL as the superuser with every trigger off (what an attacker with full access can do)."""
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        conn.execute(SQL("SET search_path TO {}").format(Identifier(settings.schema)))
        conn.execute("SET session_replication_role = replica")
        for statement in statements:
            conn.execute(statement, params or None)


def first(report) -> tuple[str, int | None, int | None]:
    p = report.first_problem
    return p.kind, p.position, p.notification_id


def test_an_intact_chain_verifies_and_the_trigger_agrees_with_the_python_hashes(chained, settings):
    report = verify(chained, settings)
    assert report.ok, report.summary()
    assert (report.checked, report.seals_checked, report.head_position) == (EVENTS, 1, EVENTS)
    assert "Chaîne intègre" in report.summary()


def test_the_chain_and_seals_are_append_only_for_ordinary_sessions(chained, settings):
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        for table in ("tocsin_chain", "tocsin_seals"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(SQL("DELETE FROM {}.{}").format(Identifier(settings.schema), Identifier(table)))


def test_one_changed_state_byte_is_named(chained, settings):
    tamper(settings, "UPDATE tocsin_events SET state = set_byte(state, 20, get_byte(state, 20) # 1) "
                     "WHERE notification_id = 3")
    assert first(verify(chained, settings)) == (v.EVENT_MODIFIED, 3, 3)


def test_a_deleted_event_is_named_whether_its_link_stays_or_goes(chained, settings):
    tamper(settings, "DELETE FROM tocsin_events WHERE notification_id = 4")
    assert first(verify(chained, settings)) == (v.EVENT_DELETED, 4, 4)
    tamper(settings, "DELETE FROM tocsin_chain WHERE notification_id = 4")
    report = verify(chained, settings)
    assert first(report)[:2] == (v.EVENT_DELETED, 4)
    assert "supprimés" in report.summary()


def test_two_swapped_rows_are_reported_as_reordered(chained, settings):
    tamper(settings,
           "UPDATE tocsin_events a SET topic = b.topic, state = b.state FROM tocsin_events b "
           "WHERE (a.notification_id, b.notification_id) IN ((2, 5), (5, 2))")
    report = verify(chained, settings)
    assert first(report) == (v.ROWS_REORDERED, 2, 2)
    assert "position 5" in report.first_problem.message


def test_a_modified_message_index_row_is_named(chained, settings):
    tamper(settings, "UPDATE tocsin_messages SET sender_id = 'fr.fire.imposteur' WHERE originator_version = 2")
    assert first(verify(chained, settings)) == (v.MESSAGE_MODIFIED, EVENTS, EVENTS)


def test_a_modified_link_is_named(chained, settings):
    tamper(settings, "UPDATE tocsin_chain SET chain_hash = sha256(chain_hash) WHERE position = 6")
    assert first(verify(chained, settings)) == (v.LINK_MODIFIED, 6, 6)


def test_a_consistently_forged_chain_is_caught_by_the_sealed_checkpoint(chained, settings):
    """The attacker edits an event and recomputes its link and every later one: only the seal can tell."""
    tamper(settings, "UPDATE tocsin_events SET state = set_byte(state, 20, get_byte(state, 20) # 1) "
                     "WHERE notification_id = 3")
    _rechain_from(settings, 3)
    report = verify(chained, settings)
    assert first(report) == (v.CHAIN_REWRITTEN, 1, EVENTS)
    assert "réécrits entre la position 1 et la position 8" in report.summary()


def test_events_chained_after_the_seal_are_protected_by_the_next_seal(chained, settings):
    _, use_case = example("RC-EDA/RC-EDA_Incendie_RaymondeLECCIA.01")
    chained.ingestor.ingest(Incoming(as_json(wire("createCase", use_case))))
    key = load_signing_key(settings.data_dir)
    made = seal(chained.store, key, settings.data_dir)
    assert made is not None and made.position == EVENTS + 1
    tamper(settings, "UPDATE tocsin_events SET state = set_byte(state, 20, get_byte(state, 20) # 1) "
                     f"WHERE notification_id = {EVENTS + 1}")
    _rechain_from(settings, EVENTS + 1)
    assert first(verify(chained, settings)) == (v.CHAIN_REWRITTEN, EVENTS + 1, EVENTS + 1)


def test_a_forged_or_deleted_seal_and_a_truncated_tail_are_named(chained, settings):
    tamper(settings, "DELETE FROM tocsin_seals")
    report = verify(chained, settings)
    assert first(report)[0] == v.SEAL_DELETED  # the journal outside the database still has it

    tamper(settings, "INSERT INTO tocsin_seals (position, notification_id, chain_hash, sealed_at, key_id, signature)"
                     " SELECT position, notification_id, chain_hash, now(), 'cafe', '\\x00' FROM tocsin_chain"
                     " WHERE position = 2")
    assert first(verify(chained, settings))[:2] == (v.SEAL_INVALID, 2)

    journal_file(settings.data_dir, settings.schema).unlink()
    tamper(settings, "DELETE FROM tocsin_seals WHERE key_id = 'cafe'")
    key = load_signing_key(settings.data_dir)
    seal(chained.store, key, settings.data_dir)
    tamper(settings, f"DELETE FROM tocsin_events WHERE notification_id >= {EVENTS - 1}",
           f"DELETE FROM tocsin_chain WHERE notification_id >= {EVENTS - 1}")
    report = verify(chained, settings)
    assert first(report)[:2] == (v.EVENT_DELETED, EVENTS - 1)


def test_an_event_inserted_around_the_trigger_is_named(chained, settings):
    tamper(settings, "INSERT INTO tocsin_events (originator_id, originator_version, topic, state) "
                     "SELECT originator_id, originator_version + 100, topic, state FROM tocsin_events "
                     "WHERE notification_id = 1")
    report = verify(chained, settings)
    assert report.first_problem.kind == v.UNCHAINED_EVENT


def test_sealing_refuses_a_broken_chain(chained, settings):
    from replay.audit.chain import ChainBroken

    _, use_case = example("RC-EDA/RC-EDA_Incendie_RaymondeLECCIA.01")
    chained.ingestor.ingest(Incoming(as_json(wire("createCase", use_case))))
    tamper(settings, "UPDATE tocsin_events SET topic = topic || 'x' WHERE notification_id = 9")
    with pytest.raises(ChainBroken):
        seal(chained.store, load_signing_key(settings.data_dir), settings.data_dir)


def _rechain_from(settings, notification_id: int) -> None:
    """What a careful attacker does: recompute the link hashes from the edited event onwards."""
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        conn.execute(SQL("SET search_path TO {}").format(Identifier(settings.schema)))
        conn.execute("SET session_replication_role = replica")
        rows = conn.execute(
            "SELECT c.position, c.notification_id, c.originator_id, c.originator_version, c.chained_at, "
            "c.message_hash, e.topic, e.state FROM tocsin_chain c JOIN tocsin_events e USING (notification_id) "
            "ORDER BY c.position").fetchall()
        previous = h.GENESIS
        for position, nid, oid, version, at, message_hash, topic, state in rows:
            state_hash = h.sha256(bytes(state))
            event_hash = h.event_hash(notification_id=nid, originator_id=oid, originator_version=version, topic=topic,
                                      state_hash=state_hash, message_hash=bytes(message_hash) if message_hash else None)
            link = h.chain_hash(previous=previous, position=position, chained_at=at, event_hash=event_hash)
            if nid >= notification_id:
                conn.execute("UPDATE tocsin_chain SET state_hash = %s, event_hash = %s, chain_hash = %s "
                             "WHERE position = %s", (state_hash, event_hash, link, position))
            previous = link
