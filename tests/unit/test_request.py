"""The request aggregate (domain.request): deadlines, answers, and a state machine that no sequence of acts
drives into an illegal state (hypothesis): terminal states final, one owner at a time, seen before
answered, each act done only from the states the table allows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from domain.request import (
    ANSWERS,
    DEADLINES,
    STATUS_LABELS,
    TERMINAL,
    TRANSITIONS,
    Act,
    NotNow,
    Request,
    RequestError,
    Status,
    due_time,
)

T0 = datetime(2026, 12, 7, 18, 0, tzinfo=UTC)
PREF = {"id": "prefecture.44", "kind": "prefecture", "name": "Préfecture de la Loire-Atlantique",
        "level": "departement", "code": "44"}
MAIRIE = {"id": "mairie.44109", "kind": "mairie", "name": "Mairie de Nantes", "level": "commune", "code": "44109"}
COZ = {"id": "coz.ouest", "kind": "coz", "name": "COZ Ouest", "level": "zone", "code": "ouest"}
COGIC = {"id": "cogic.FR", "kind": "cogic", "name": "COGIC", "level": "national", "code": "FR"}
BY = {"person_id": "p1", "name": "Personne"}


def request(deadline: str = "1H", issuer: dict = PREF, addressee: dict = MAIRIE) -> Request:
    code, due = due_time(deadline, T0)
    return Request(ref=f"{issuer['id']}.request.1", number=1, issuer=issuer, addressee=addressee,
                   kind="information", text="Point de situation", deadline=code, due_at=due, crisis_id=None,
                   case_id=None, by=BY, at=T0, exercise=False)


def test_deadline_codes_are_rs_drs_and_give_due_times():
    assert set(DEADLINES) == {"DEL0", "ASAP", "30M", "45M", "1H", "2H", "4H", "8H", "12H", "24H", "RDV"}
    assert due_time("30M", T0) == ("30M", T0 + timedelta(minutes=30))
    assert due_time("24h", T0) == ("24H", T0 + timedelta(hours=24))
    assert due_time("RDV", T0) == ("RDV", None)
    assert due_time("2026-12-07T20:00:00+01:00", T0) == (None, datetime(2026, 12, 7, 19, 0, tzinfo=UTC))
    for bad, message in (("3J", "délai inconnu"), ("2026-12-07T20:00:00", "fuseau"),
                         ("2026-12-07T10:00:00+00:00", "déjà passée")):
        with pytest.raises(RequestError, match=message):
            due_time(bad, T0)


def test_answers_are_rs_rrs():
    assert set(ANSWERS) == {"ACCEPTEE", "PARTIELLE", "REFUSEE", "DIFFEREE"}


def test_a_refusal_needs_a_reason_and_a_partial_answer_a_deadline():
    r = request()
    with pytest.raises(RequestError, match="motivé"):
        r.answer_with("REFUSEE", " ", None, BY, T0)
    with pytest.raises(RequestError, match="délai"):
        r.answer_with("PARTIELLE", "", None, BY, T0)
    r.answer_with("PARTIELLE", "la moitié", T0 + timedelta(hours=3), BY, T0 + timedelta(minutes=5))
    assert r.status is Status.PARTIAL and r.due_at == T0 + timedelta(hours=3)
    assert r.seen_at == T0 + timedelta(minutes=5), "answering implies having seen it"


def test_overdue_once_per_due_time_and_again_for_a_committed_one():
    r = request("30M")
    assert not r.mark_overdue(T0 + timedelta(minutes=29))
    assert r.mark_overdue(T0 + timedelta(minutes=31)) and r.overdue
    assert not r.mark_overdue(T0 + timedelta(minutes=40)), "fire-once"
    r.answer_with("PARTIELLE", "", T0 + timedelta(hours=2), BY, T0 + timedelta(minutes=45))
    assert not r.overdue and r.next_due() == T0 + timedelta(hours=2)
    assert r.mark_overdue(T0 + timedelta(hours=3))
    r.finish("", BY, T0 + timedelta(hours=4))
    assert r.next_due() is None and not r.overdue
    assert request("RDV").next_due() is None


def test_cancelled_is_final():
    r = request()
    r.cancel("plus utile", BY, T0)
    for act in (lambda: r.answer_with("ACCEPTEE", "", None, BY, T0), lambda: r.close("", BY, T0),
                lambda: r.cancel("", BY, T0), lambda: r.give_back("", BY, T0)):
        with pytest.raises(NotNow, match="annulée"):
            act()
    assert not r.see(BY, T0) and not r.mark_overdue(T0 + timedelta(days=1))


# ---- the state machine ------------------------------------------------------------------------------

PARENTS = {MAIRIE["id"]: PREF, PREF["id"]: COZ, COZ["id"]: COGIC}


class Lifecycle(RuleBasedStateMachine):
    """Any act at any moment: an act the table refuses raises and records nothing; an act it allows moves
    the request where the table says."""

    def __init__(self) -> None:
        super().__init__()
        self.r = request("1H")
        self.now = T0
        self.final_at: Status | None = None

    def attempt(self, act: Act, do) -> None:
        before = (self.r.status, self.r.version, self.r.owner["id"], len(self.r.escalated_from))
        allowed = self.r.status in TRANSITIONS[act].sources and not self.r.is_final
        try:
            do()
        except RequestError:
            after = (self.r.status, self.r.version, self.r.owner["id"], len(self.r.escalated_from))
            assert after == before, "a refused act records nothing"
            return
        if self.r.version == before[1]:
            return  # nothing to do (seen already, not due yet): nothing recorded
        assert allowed, f"{act} recorded from {before[0]}"
        target = TRANSITIONS[act].target
        if target is not None:
            assert self.r.status is target

    @rule(minutes=st.integers(0, 180))
    def time_passes(self, minutes: int) -> None:
        self.now += timedelta(minutes=minutes)

    @rule()
    def see(self) -> None:
        self.attempt(Act.SEE, lambda: self.r.see(BY, self.now))

    @rule(code=st.sampled_from([*ANSWERS, "OUI"]), comment=st.sampled_from(["", "motif"]),
          committed=st.sampled_from([None, 30, -30]))
    def answer(self, code: str, comment: str, committed: int | None) -> None:
        deadline = self.now + timedelta(minutes=committed) if committed is not None else None
        self.attempt(Act.ANSWER, lambda: self.r.answer_with(code, comment, deadline, BY, self.now))

    @rule()
    def ask_info(self) -> None:
        self.attempt(Act.ASK_INFO, lambda: self.r.ask_info("Quelles rues ?", BY, self.now))

    @rule()
    def give_info(self) -> None:
        self.attempt(Act.GIVE_INFO, lambda: self.r.give_info("Quai de la Fosse", BY, self.now))

    @rule()
    def start(self) -> None:
        self.attempt(Act.START, lambda: self.r.start("", BY, self.now))

    @rule()
    def finish(self) -> None:
        self.attempt(Act.FINISH, lambda: self.r.finish("", BY, self.now))

    @rule()
    def close(self) -> None:
        self.attempt(Act.CLOSE, lambda: self.r.close("", BY, self.now))

    @rule()
    def cancel(self) -> None:
        self.attempt(Act.CANCEL, lambda: self.r.cancel("", BY, self.now))

    @rule()
    def escalate(self) -> None:
        parent = PARENTS.get(self.r.owner["id"])
        if parent is not None:
            self.attempt(Act.ESCALATE, lambda: self.r.escalate(parent, "", BY, self.now))

    @rule()
    def give_back(self) -> None:
        self.attempt(Act.RETURN, lambda: self.r.give_back("", BY, self.now))

    @rule()
    def overdue(self) -> None:
        self.attempt(Act.OVERDUE, lambda: self.r.mark_overdue(self.now))

    @invariant()
    def legal_state(self) -> None:
        r = self.r
        assert r.status in STATUS_LABELS
        # One owner at a time: the addressee, or the last authority it was escalated to, with the chain that
        # leads there from the addressee.
        chain = [*r.escalated_from, r.owner]
        assert chain[0]["id"] == r.addressee["id"]
        assert len({p["id"] for p in chain}) == len(chain), "no authority twice"
        for lower, upper in zip(chain, chain[1:], strict=False):
            assert PARENTS[lower["id"]]["id"] == upper["id"]
        if r.status not in (Status.ISSUED,):
            assert r.seen_at is not None or r.status is Status.CANCELLED, "seen before anything but a cancel"
        if r.status in (Status.ACCEPTED, Status.PARTIAL, Status.REFUSED, Status.DEFERRED, Status.IN_PROGRESS,
                        Status.DONE):
            assert r.answer is not None and r.answered_at is not None
        if r.status is Status.PARTIAL:
            assert r.answer is not None and r.answer["deadline"] is not None
        if r.status is Status.REFUSED:
            assert r.answer is not None and r.answer["comment"]
        if r.status in (Status.IN_PROGRESS, Status.DONE):
            assert r.answer is not None and r.answer["answer"] in ("ACCEPTEE", "PARTIELLE"), "done what was accepted"
        if r.status is Status.DONE:
            assert r.done_at is not None
        if r.status is Status.CLOSED:
            acts = [h["act"] for h in r.history]
            assert "done" in acts or (r.answer is not None and r.answer["answer"] == "REFUSEE"), \
                "closed once done or refused"
        if r.status is Status.CANCELLED:
            assert "done" not in [h["act"] for h in r.history], "a request done is closed, not cancelled"
        assert len(r.overdue_for) == len(set(r.overdue_for)), "overdue once per due time"
        # Terminal states are final.
        if self.final_at is not None:
            assert r.status is self.final_at
        elif r.status in TERMINAL:
            self.final_at = r.status
        # The history and the events agree.
        assert len(r.history) == r.version


TestLifecycle = Lifecycle.TestCase
TestLifecycle.settings = settings(max_examples=150, stateful_step_count=30, deadline=None)
