"""An event document encoded in two steps (EventDraft) is what the library's mapper encodes: the same
document when decoded, byte for byte where the library encodes the facts itself."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.cisu import parse_wire_message
from adapters.ingest.ingestion import Incoming, _Accepted, _provenance
from adapters.store.codec import EventDraft, Stamp, encode, encode_json
from adapters.store.event_store import TocsinStore
from domain.case import EVENT_CLASS_BY_KIND, Exchange
from domain.case_state import parse_time
from tests.support.nats_harness import simulated

EVENT_CLASSES = [*EVENT_CLASS_BY_KIND.values(), Exchange.AcknowledgementRecorded]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=20,
)
provenances = st.dictionaries(st.text(max_size=20), json_values, max_size=6).map(
    lambda extra: {"distribution_id": "x", **extra, "recorded_at": None, "sha256": '"recorded_at":null'}
)


def library_state(store: TocsinStore, event_class, at: datetime, case_id, facts: dict, provenance: dict) -> bytes:
    event = event_class(
        originator_id=uuid.uuid4(), originator_version=1, timestamp=at, case_id=case_id, facts=facts,
        provenance={**provenance, "recorded_at": at.isoformat()},
    )
    stored = store.mapper.to_stored_event(event)
    compressor, cipher = store.mapper.compressor, store.mapper.cipher
    assert compressor is not None and cipher is not None  # Tocsin's store compresses and encrypts every event
    return compressor.decompress(cipher.decrypt(stored.state))


def test_prepared_messages_give_the_library_s_documents(services):
    at = datetime.now(UTC)
    items = [Incoming(m.raw, m.content_type, source=f"t#{i}") for i, m in enumerate(simulated(300, seed=3))]
    for item, prepared in zip(items, services.ingestor.preparer.many(items), strict=True):
        assert isinstance(prepared, _Accepted)
        # The provenance the draft encodes (a prepared message carries only the fields the commit reads).
        provenance = _provenance(item, prepared.sha256, parse_wire_message(item.raw, item.content_type))
        carried = (
            prepared.distribution_id, prepared.sender_id, prepared.sent_at, prepared.encoding, prepared.xml_namespace
        )
        assert carried == (
            provenance["distribution_id"], provenance["sender_id"], parse_time(provenance["sent_at"]),
            provenance["encoding"], provenance["xml_namespace"],
        )
        for event_class in EVENT_CLASSES:
            for case_id in (prepared.case_id, None):
                expected = library_state(
                    services.store, event_class, at, case_id, json.loads(prepared.draft.facts), provenance
                )
                assert same_document(services.store, prepared.draft.state(Stamp.of(at), case_id), expected)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])  # the store's mapper keeps no state
@given(json_values, provenances, st.sampled_from(EVENT_CLASSES), st.none() | st.text(max_size=10),
       st.integers(-14 * 60, 14 * 60), st.datetimes())
def test_any_facts_and_provenance_give_the_library_s_document(
    services, facts, provenance, event_class, case_id, offset, moment
):
    at = moment.replace(tzinfo=timezone(timedelta(minutes=offset)))
    facts = {"value": facts}
    expected = library_state(services.store, event_class, at, case_id, facts, provenance)
    assert same_document(services.store, EventDraft.of(facts, provenance).state(Stamp.of(at), case_id), expected)


@given(json_values, st.sampled_from([datetime(2024, 5, 2, tzinfo=UTC), Decimal("1.5"), 2**70, {1: "a"}]))
def test_what_orjson_refuses_is_encoded_byte_for_byte_as_the_library_does(value, odd):
    facts = {"value": value, "odd": odd}
    assert encode_json(facts) == encode(facts)


def same_document(store: TocsinStore, state: bytes, expected: bytes) -> bool:
    """Decoded by the library as the library's own encoding is, key order included."""
    decoded, wanted = store.mapper.transcoder.decode(state), store.mapper.transcoder.decode(expected)
    return decoded == wanted and repr(decoded) == repr(wanted)


def test_facts_the_event_cannot_encode_quarantine_the_message_instead_of_stopping_the_batch(services, monkeypatch):
    import adapters.ingest.ingestion as ingestion
    from adapters.ingest.normalise import Normalised

    unstorable = Normalised("reported", "c1", {"x": object()})
    monkeypatch.setattr(ingestion, "normalise", lambda message, geography: unstorable)
    [raw] = [m.raw for m in simulated(1, seed=3)]
    prepared = services.ingestor.preparer(Incoming(raw, None, source="t"))
    assert [r["code"] for r in prepared.reasons] == ["internal-error"]
