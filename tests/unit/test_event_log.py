"""The one definition of "when it happened", on the Python side (tests/integration/test_replay_event_log.py
checks that the SQL side agrees with it on stored rows)."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

import pytest

from adapters.store.codec import CaseEvent
from replay.event_log import HAPPENED_BY, KNOWN_AT, check_sense, happened_at, happened_at_sql

RECORDED = datetime(2024, 8, 13, 9, 0, tzinfo=UTC)


def _event(provenance: dict | None) -> CaseEvent:
    # None on purpose (the type says dict): happened_at also copes with an event that has no provenance.
    return CaseEvent(1, uuid4(), "createCase", "case-1", {}, provenance, RECORDED)  # type: ignore[arg-type]


def test_sent_time_first() -> None:
    event = _event({"sent_at": "2024-08-13T10:21:00+02:00", "received_at": "2024-08-13T08:25:00+00:00"})
    assert happened_at(event) == datetime(2024, 8, 13, 8, 21, tzinfo=UTC)


def test_received_time_when_not_sent() -> None:
    received = "2024-08-13T08:25:00+00:00"
    assert happened_at(_event({"sent_at": None, "received_at": received})) == datetime.fromisoformat(received)
    # A sent time ingestion could not read is no time (the message index holds NULL for it).
    assert happened_at(_event({"sent_at": "hier", "received_at": received})) == datetime.fromisoformat(received)


def test_recording_time_without_a_message() -> None:
    assert happened_at(_event({})) == RECORDED
    assert happened_at(_event(None)) == RECORDED


def test_naive_times_are_utc() -> None:
    assert happened_at(_event({"sent_at": "2024-08-13T10:21:00"})) == datetime(2024, 8, 13, 10, 21, tzinfo=UTC)


def test_sql_expression() -> None:
    assert happened_at_sql("m", "c").as_string() == 'coalesce("m"."sent_at", "m"."received_at", "c"."chained_at")'
    assert happened_at_sql("msg", None).as_string() == 'coalesce("msg"."sent_at", "msg"."received_at")'


def test_senses() -> None:
    check_sense(KNOWN_AT)
    check_sense(HAPPENED_BY)
    with pytest.raises(ValueError, match="sens inconnu"):
        check_sense("known")
