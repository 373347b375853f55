"""Views as of a past moment: what the platform knew then, and what had happened by then."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

from adapters.ingest.ingestion import Incoming
from domain.case_state import parse_time
from replay.as_of import replay_view
from replay.event_log import HAPPENED_BY, KNOWN_AT
from tests.support.wire import FIRE_CASE, as_json, example, wire

REPORT_SENT = "2024-08-13T10:21:00+02:00"
RESOURCES_SENT = "2024-08-13T10:30:00+02:00"


def _moment() -> datetime:
    time.sleep(0.01)
    moment = datetime.now(UTC)
    time.sleep(0.01)
    return moment


def _at(text: str) -> datetime:
    """A moment written in a test, parsed as the platform parses the messages' times."""
    moment = parse_time(text)
    assert moment is not None, text
    return moment


def test_known_at_and_happened_by(services):
    before_anything = _moment()
    # The resources arrive first (sent later), then the report: the two senses differ.
    services.ingestor.ingest(Incoming(as_json(wire(*example("RC-RI/RC-RI_Incendie_RaymondeLECCIA.03"),
                                                   sent_at=RESOURCES_SENT))))
    after_resources = _moment()
    services.ingestor.ingest(Incoming(as_json(wire(*example("RC-EDA/RC-EDA_Incendie_RaymondeLECCIA.01"),
                                                   sent_at=REPORT_SENT))))
    store = services.store

    assert replay_view(store, "case", FIRE_CASE, before_anything).view is None
    known = replay_view(store, "case", FIRE_CASE, after_resources, KNOWN_AT)
    assert known.events == 1 and known.view is not None
    assert known.view["nature_code"] is None and known.view["resources_total"] == 1
    now = replay_view(store, "departement", "35", datetime.now(UTC), KNOWN_AT)
    assert now.events == 2 and now.view is not None and now.view["figures"]["cases:total"] == 1
    assert [c["case_id"] for c in now.view["most_serious"]] == [FIRE_CASE]  # an open case
    assert now.view["opened_last_24h"] == 0  # opened in 2024, long before now
    half_hour_later = replay_view(store, "departement", "35", _at(REPORT_SENT) + timedelta(minutes=30), HAPPENED_BY)
    assert half_hour_later.view is not None and half_hour_later.view["opened_last_hour"] == 1

    happened = replay_view(store, "case", FIRE_CASE, _at("2024-08-13T10:25:00+02:00"), HAPPENED_BY)
    assert happened.events == 1 and happened.view is not None and happened.view["nature_code"] == "C04.02.01"
    assert happened.view["resources_total"] == 0
    national = replay_view(store, "national", "FR", _at(RESOURCES_SENT), HAPPENED_BY)
    assert national.view is not None and national.view["figures"]["resources:total"] == 1
    assert replay_view(store, "zone", "ouest", _at("2024-08-13T10:00:00+02:00"), HAPPENED_BY).view is None


def test_replay_view_command(services, replay_cli):
    services.ingestor.ingest(Incoming(as_json(wire(*example("RC-EDA/RC-EDA_Incendie_RaymondeLECCIA.01"),
                                                   sent_at=REPORT_SENT))))
    result = replay_cli(["replay", "view", "cases", "35", "--at", "2024-08-13T10:22:00+02:00",
                                 "--happened-by", "--json"])
    assert result.exit_code == 0, result.output
    assert [c["case_id"] for c in json.loads(result.output)["view"]["cases"]] == [FIRE_CASE]
    text = replay_cli(["replay", "view", "departement", "35", "--at", datetime.now(UTC).isoformat()])
    assert "cases:total : 1" in text.output
