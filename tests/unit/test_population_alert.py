"""The alert to the population as a state machine: no sequence of acts reaches an illegal state, CAP's
rules for identifiers and references hold, and only the commune's mairie and its département's préfecture
act on it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.geography import get_geography
from domain.access import (
    ROLES,
    Denied,
    Principal,
    check_may_cancel_population_alert,
    check_may_decide_population_alert,
    check_may_draft_population_alert,
    may_see_population_alert,
)
from domain.geography import Level
from domain.population_alert import (
    ABANDONED,
    CANCELLED,
    PUBLISHED,
    REFUSED,
    SENT,
    TO_APPROVE,
    TO_PUBLISH,
    PopulationAlert,
    Refused,
    checked_content,
    reference,
)

T0 = datetime(2026, 12, 7, 20, 0, tzinfo=UTC)
RAW = {"event": "Inondation", "headline": "Crue", "description": "La Vilaine déborde.", "instruction": "À l'étage.",
       "category": "Met", "urgency": "Immediate", "severity": "Severe", "certainty": "Observed"}
WHO = {"person_id": "p", "name": "P"}


def new_alert() -> PopulationAlert:
    return PopulationAlert(insee="35126", departement="35", commune_name="Guichen",
                           content=checked_content(RAW, "Guichen"), drafted_by=WHO, crisis_id=None, exercise=False,
                           at=T0)


def prepared(alert: PopulationAlert, msg_type: str, at: datetime) -> dict:
    """What adapters.cap would prepare (the XML does not matter to the domain)."""
    return {"identifier": alert.next_identifier("tocsin"), "sender": "tocsin@localhost", "sent": at.isoformat(),
            "msg_type": msg_type, "references": alert.references() if msg_type != "Alert" else [], "xml": "<alert/>"}


ACTS = st.sampled_from(["approve", "refuse", "update", "cancel", "publish", "fail"])


@settings(max_examples=300, deadline=None)
@given(st.lists(ACTS, max_size=25))
def test_no_sequence_of_acts_reaches_an_illegal_state(acts):
    alert = new_alert()
    at = T0
    for act in acts:
        at += timedelta(minutes=1)
        before = alert.state
        try:
            if act == "approve":
                alert.approve(WHO, at, prepared(alert, alert.next_msg_type(), at))
            elif act == "refuse":
                alert.refuse(WHO, "pas nécessaire", at)
            elif act == "update":
                alert.update(checked_content({**RAW, "headline": f"v{at:%M}"}, "Guichen"), WHO, at)
            elif act == "cancel":
                alert.cancel(WHO, "fin", at, prepared(alert, "Cancel", at) if alert.published else None)
            elif act in ("publish", "fail"):
                if not alert.outbox:
                    continue
                first = alert.outbox[0]["identifier"]
                if act == "publish":
                    alert.published_to(first, "http://passerelle", at)
                else:
                    alert.failed_to_publish(first, None, "injoignable", at)
        except Refused:
            assert alert.state == before  # a refused act changes nothing
            continue
        # Terminal states are final (but for sending the Cancel message itself); a decision needs a waiting
        # version.
        if before == CANCELLED:
            assert act in ("publish", "fail") and alert.messages[-1]["msg_type"] == "Cancel", act
        if before == REFUSED:
            raise AssertionError(f"{act} accepted after refusal")
        if act in ("approve", "refuse"):
            assert before == TO_APPROVE
    identifiers = [m["identifier"] for m in alert.messages]
    assert len(identifiers) == len(set(identifiers))
    sent = [m for m in alert.messages if m["status"] == SENT]
    for i, m in enumerate(alert.messages):
        # The first message is an Alert without references; each later one names every message published
        # before it was prepared, and is an Update or a Cancel.
        if i == 0:
            assert m["msg_type"] == "Alert" and m["references"] == []
        else:
            assert m["msg_type"] in ("Alert", "Update", "Cancel")
            if m["msg_type"] != "Alert":
                assert m["references"]
    if alert.state == PUBLISHED:
        assert sent and not alert.outbox
    if alert.state == TO_PUBLISH:
        assert alert.outbox
    if alert.cancelled is not None:
        assert alert.state == CANCELLED
        assert all(m["status"] != "à publier" or m["msg_type"] == "Cancel" for m in alert.messages)


def test_update_of_a_published_alert_references_it_and_a_refused_update_leaves_it_published():
    alert = new_alert()
    alert.approve(WHO, T0, prepared(alert, "Alert", T0))
    first = alert.messages[0]
    alert.published_to(first["identifier"], "gw", T0)
    assert alert.state == PUBLISHED and alert.next_msg_type() == "Update"
    alert.update(checked_content({**RAW, "headline": "Crue (suite)"}, "Guichen"), WHO, T0)
    assert alert.state == TO_APPROVE
    alert.refuse(WHO, "inutile", T0)
    assert alert.state == PUBLISHED
    alert.update(checked_content({**RAW, "headline": "Crue (suite)"}, "Guichen"), WHO, T0)
    alert.approve(WHO, T0, prepared(alert, alert.next_msg_type(), T0))
    assert alert.messages[-1]["msg_type"] == "Update" and alert.messages[-1]["references"] == [reference(first)]
    with pytest.raises(Refused, match="raison"):
        alert.cancel(WHO, "  ", T0, None)


def test_a_cancelled_draft_needs_no_cap_message_and_abandons_what_was_not_sent():
    alert = new_alert()
    alert.approve(WHO, T0, prepared(alert, "Alert", T0))
    alert.failed_to_publish(alert.messages[0]["identifier"], None, "aucune passerelle", T0)
    with pytest.raises(Refused):
        alert.cancel(WHO, "fin", T0, prepared(alert, "Cancel", T0))  # nothing published: no Cancel to send
    alert.cancel(WHO, "fin", T0, None)
    assert alert.state == CANCELLED and alert.messages[0]["status"] == ABANDONED and not alert.outbox


geography = get_geography()


def principal(role: str, territory: str, organisation_id: str | None = None) -> Principal:
    level, code = territory.split(":")
    return Principal(subject="x", role=ROLES[role], level=Level(level), code=code, geography=geography,
                     organisation_id=organisation_id)


def test_only_the_communes_mairie_drafts_and_only_its_prefecture_decides():
    guichen_mayor = principal("mayor", "commune:35126")
    rennes_mayor = principal("mayor", "commune:35238")
    prefet_35 = principal("prefecture", "departement:35")
    prefet_29 = principal("prefecture", "departement:29")
    sdis_35 = principal("sdis", "departement:35")
    check_may_draft_population_alert(guichen_mayor, "35126")
    check_may_draft_population_alert(principal("mayor", "commune:35126", "mairie.35126"), "35126")
    for other in (rennes_mayor, prefet_35, sdis_35, principal("mayor", "commune:35126", "mairie.35238")):
        with pytest.raises(Denied):
            check_may_draft_population_alert(other, "35126")
    check_may_decide_population_alert(prefet_35, "35")
    for other in (prefet_29, guichen_mayor, sdis_35, principal("national", "national:FR")):
        with pytest.raises(Denied):
            check_may_decide_population_alert(other, "35")
    check_may_cancel_population_alert(guichen_mayor, "35126", "35")
    check_may_cancel_population_alert(prefet_35, "35126", "35")
    with pytest.raises(Denied):
        check_may_cancel_population_alert(rennes_mayor, "35126", "35")
    assert may_see_population_alert(guichen_mayor, "35126") and may_see_population_alert(sdis_35, "35126")
    assert not may_see_population_alert(rennes_mayor, "35126") and not may_see_population_alert(prefet_29, "35126")
