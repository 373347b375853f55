"""Who may update a case (domain.case_parties): never a stranger, always its parties, whatever the order."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.cisu import parse_wire_message
from adapters.ingest.normalise import addressees
from domain.case_parties import NOT_A_PARTY, admission, joined, parties_of
from domain.case_state import REPORTED, CaseState, apply_message, best_placement

CASE = "fr.fire.sis35.cgo-35.SC-20240813-sis35-AT01001"
FOUNDER, SAMU, POLICE = "fr.fire.sis35.cgo-35", "fr.health.samu35", "fr.police.ddsp35"
STRANGERS = ("fr.fire.sis29.cgo-29", "fr.health.samu29")
RENNES, CESSON, BREST = "35238", "35051", "29019"
ENVELOPES = Path(__file__).resolve().parents[2] / "adapters" / "reference" / "cisu" / "envelopes"


@dataclass(frozen=True)
class Message:
    distribution_id: str
    sender: str
    recipients: tuple[str, ...]
    minute: int
    insee: str


@st.composite
def exchanges(draw: st.DrawFn) -> tuple[list[Message], list[Message]]:
    """A case's messages as CISU partners exchange them, and strangers' messages on the same caseId.

    The founder creates the case for SAMU 35 and may bring the police in later; each partner writes back to
    the founder, and only once the founder has addressed it. Parties may move the case (a corrected
    commune); strangers place it in Brest, at any time."""
    messages = [Message("m0", FOUNDER, (SAMU,), 0, RENNES)]
    addressed = {SAMU}
    for n in range(1, draw(st.integers(1, 8)) + 1):
        if draw(st.booleans()):
            recipients = tuple(sorted(draw(st.sets(st.sampled_from((SAMU, POLICE)), min_size=1))))
            messages.append(Message(f"m{n}", FOUNDER, recipients, n, draw(st.sampled_from((RENNES, CESSON)))))
            addressed |= set(recipients)
        else:
            sender = draw(st.sampled_from(sorted(addressed)))
            messages.append(Message(f"m{n}", sender, (FOUNDER,), n, draw(st.sampled_from((RENNES, CESSON)))))
    strangers = [
        Message(
            f"s{n}", draw(st.sampled_from(STRANGERS)),
            tuple(draw(st.sets(st.sampled_from((FOUNDER, SAMU, POLICE, *STRANGERS)), min_size=1))),
            draw(st.integers(-5, 20)), BREST,
        )
        for n in range(draw(st.integers(1, 4)))
    ]
    return messages, strangers


def _fold(messages: list[Message]) -> CaseState:
    state = CaseState()
    for m in messages:
        facts = {"case_id": CASE, "placement": {"insee": m.insee}}
        apply_message(state, REPORTED, facts, {"sent_at": f"2024-08-13T10:{30 + m.minute:02d}:00+02:00",
                                               "distribution_id": m.distribution_id})
    return state


def _ingest(arrivals: list[Message]) -> tuple[list[Message], list[Message]]:
    """Ingestion's decisions in arrival order, then an operator retrying the quarantine until nothing moves."""
    parties: frozenset[str] = frozenset()
    accepted: list[Message] = []
    waiting = list(arrivals)
    progress = True
    while progress:
        progress, still = False, []
        for m in waiting:
            if admission(parties, m.sender) is None:
                parties = joined(parties, m.sender, m.recipients)
                accepted.append(m)
                progress = True
            else:
                still.append(m)
        waiting = still
    return accepted, waiting


@settings(max_examples=300, deadline=None)
@given(exchanges(), st.randoms(use_true_random=False))
def test_a_stranger_never_moves_the_case_and_parties_always_apply_whatever_the_order(drawn, rng):
    messages, strangers = drawn
    arrivals = messages + strangers
    rng.shuffle(arrivals)
    # The case exists once one of its parties' messages has arrived: whatever a stranger sends before that
    # founds another story, which no rule can tell from a late creator's (see domain.case_parties).
    first = next(i for i, m in enumerate(arrivals) if m in messages)
    arrivals.insert(0, arrivals.pop(first))

    accepted, refused = _ingest(arrivals)

    assert sorted(refused, key=lambda m: m.distribution_id) == sorted(strangers, key=lambda m: m.distribution_id)
    assert sorted(accepted, key=lambda m: m.distribution_id) == sorted(messages, key=lambda m: m.distribution_id)
    # Folded in arrival order, the case is where its parties' messages put it, never in Brest.
    placement = best_placement(_fold(accepted))
    assert placement == best_placement(_fold(messages)) and placement is not None and placement["insee"] != BREST
    assert parties_of((m.sender, m.recipients) for m in accepted) == {FOUNDER, SAMU} | {
        r for m in messages for r in m.recipients
    }


@given(exchanges(), st.randoms(use_true_random=False))
def test_the_parties_folded_from_the_events_do_not_depend_on_their_order(drawn, rng):
    messages, _ = drawn
    shuffled = list(messages)
    rng.shuffle(shuffled)
    in_order = parties_of((m.sender, m.recipients) for m in messages)
    assert parties_of((m.sender, m.recipients) for m in shuffled) == in_order


def test_the_first_message_founds_the_case_and_a_non_party_is_refused_with_the_rule_not_values():
    assert admission(frozenset(), STRANGERS[0]) is None
    parties = joined(frozenset(), FOUNDER, [SAMU])
    assert parties == {FOUNDER, SAMU}
    assert admission(parties, SAMU) is None and admission(parties, FOUNDER) is None
    refusal = admission(parties, STRANGERS[0])
    assert refusal is not None and refusal.code == NOT_A_PARTY and refusal.path == "$.senderID"
    assert refusal.as_reason() == {"code": NOT_A_PARTY, "path": "$.senderID", "message": refusal.message}
    assert "fr." not in refusal.message and "explicitAddress" in refusal.message
    assert admission(parties, None) is not None  # a sender Tocsin cannot name is nobody's party
    assert joined(parties, SAMU, [FOUNDER]) is parties  # nothing new: the same set


@pytest.mark.parametrize("name, sender, addressee", [
    ("RC-EDA.json", "fr.health.samuA", "fr.health.samuB"),
    ("RC-EDA.xml", "fr.health.samuB", "fr.health.samuA"),
])
def test_the_addressees_are_read_off_the_envelope_in_either_encoding(name, sender, addressee):
    message = parse_wire_message((ENVELOPES / name).read_bytes())
    assert message.sender_id == sender and addressees(message.envelope) == (addressee,)


def test_every_explicit_address_counts_once_whatever_its_shape():
    envelope = {"descriptor": {"explicitAddress": [
        {"explicitAddressScheme": "hubex", "explicitAddressValue": ["fr.health.samu35", "fr.fire.sis35.cgo-35"]},
        {"explicitAddressScheme": "hubex", "explicitAddressValue": "fr.health.samu35"},
    ]}}
    assert addressees(envelope) == ("fr.health.samu35", "fr.fire.sis35.cgo-35")
    assert addressees({}) == () and addressees({"descriptor": {"explicitAddress": {}}}) == ()
