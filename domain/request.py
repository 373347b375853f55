"""Requests between authorities (demandes): a préfecture asks a mairie for a situation report, a mairie
asks its préfecture for means, a zone asks national staff for reinforcements…

The vocabulary is the CISU hub's own, so that the authorities' requests read like the ones emergency
services exchange through NexSIS: RS-DR's deadline codes (`request.deadline`: DEL0, ASAP, 30M … 24H,
RDV) and its cancellation (`status` ANNULEE), RS-RR's answers (`response.answer`: ACCEPTEE, PARTIELLE,
REFUSEE, DIFFEREE), and ids `{orgId}.request.{n}` (n counted per issuing organisation).

The lifecycle is one explicit table (TRANSITIONS): for each act, who does it (the issuer or the current
owner, i.e. the addressee or the authority it was escalated to), the states it may start from and the
state it leads to. Closed and cancelled requests are final. A request has one owner at a time:
escalating hands it to the owner's parent authority, returning hands it back.

Deadlines. Codes become a due time from the issuing: the durations they name; DEL0 (« sans délai »)
15 minutes and ASAP (« dès que possible ») one hour, so that an unanswered request still falls overdue;
RDV (« sur rendez-vous ») has no due time unless an ISO time is given instead of the code. A partial
answer commits to its own deadline, which becomes the due time. Overdue is an event, decided once per
due time by the process that watches them (adapters.crisis.requests), never by a reader's clock.

Who may address whom, answer, cancel and see is in domain.access, with the other access rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.identity import request_uuid
from domain.local_time import zone_of

TEXT_MAX = 2000


@dataclass(frozen=True)
class RequestKind:
    code: str
    label: str  # French, shown as is


KINDS: dict[str, RequestKind] = {
    k.code: k
    for k in (
        RequestKind("information", "Demande d'information (point de situation)"),
        RequestKind("means", "Demande de moyens (renfort)"),
        RequestKind("action", "Demande d'action (évacuer, ouvrir un centre d'accueil…)"),
        RequestKind("population_alert", "Demande d'alerte à la population"),
    )
}

# RS-DR's `request.deadline` codes, their French labels and the delay they give (None: no due time).
DEADLINES: dict[str, tuple[str, timedelta | None]] = {
    "DEL0": ("sans délai", timedelta(minutes=15)),
    "ASAP": ("dès que possible", timedelta(hours=1)),
    "30M": ("30 minutes", timedelta(minutes=30)),
    "45M": ("45 minutes", timedelta(minutes=45)),
    "1H": ("1 heure", timedelta(hours=1)),
    "2H": ("2 heures", timedelta(hours=2)),
    "4H": ("4 heures", timedelta(hours=4)),
    "8H": ("8 heures", timedelta(hours=8)),
    "12H": ("12 heures", timedelta(hours=12)),
    "24H": ("24 heures", timedelta(hours=24)),
    "RDV": ("sur rendez-vous", None),
}

# RS-RR's `response.answer` codes.
ACCEPTEE = "ACCEPTEE"
PARTIELLE = "PARTIELLE"
REFUSEE = "REFUSEE"
DIFFEREE = "DIFFEREE"
ANSWERS = {ACCEPTEE: "acceptée", PARTIELLE: "acceptée partiellement", REFUSEE: "refusée", DIFFEREE: "différée"}
ANNULEE = "ANNULEE"  # RS-DR's cancellation status


class Status(StrEnum):
    ISSUED = "issued"
    SEEN = "seen"
    INFO_ASKED = "info_asked"
    ACCEPTED = "accepted"
    PARTIAL = "partial"
    REFUSED = "refused"
    DEFERRED = "deferred"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    CLOSED = "closed"
    CANCELLED = "cancelled"


STATUS_LABELS: dict[Status, str] = {
    Status.ISSUED: "émise",
    Status.SEEN: "vue",
    Status.INFO_ASKED: "complément demandé",
    Status.ACCEPTED: "acceptée",
    Status.PARTIAL: "acceptée partiellement",
    Status.REFUSED: "refusée",
    Status.DEFERRED: "différée",
    Status.IN_PROGRESS: "en cours",
    Status.DONE: "réalisée",
    Status.CLOSED: "close",
    Status.CANCELLED: "annulée",
}
TERMINAL = frozenset({Status.CLOSED, Status.CANCELLED})
_ANSWERED_STATUS = {ACCEPTEE: Status.ACCEPTED, PARTIELLE: Status.PARTIAL, REFUSEE: Status.REFUSED,
                    DIFFEREE: Status.DEFERRED}


class Act(StrEnum):
    SEE = "see"
    ANSWER = "answer"
    ASK_INFO = "ask_info"
    GIVE_INFO = "give_info"
    START = "start"
    FINISH = "finish"
    CLOSE = "close"
    CANCEL = "cancel"
    ESCALATE = "escalate"
    RETURN = "return"
    OVERDUE = "overdue"


ISSUER = "issuer"
OWNER = "owner"
SYSTEM = "system"


@dataclass(frozen=True)
class Transition:
    who: str  # ISSUER, OWNER (the addressee, or the authority it was escalated to) or SYSTEM
    sources: frozenset[Status]
    target: Status | None  # None: the state stays (escalating, overdue) or depends on the answer
    refusal: str  # French: why the act is refused in another state


S = Status
_WAITING = frozenset({S.ISSUED, S.SEEN, S.DEFERRED})  # the owner has not committed yet
TRANSITIONS: dict[Act, Transition] = {
    Act.SEE: Transition(OWNER, frozenset({S.ISSUED}), S.SEEN, "la demande a déjà été vue"),
    Act.ANSWER: Transition(OWNER, _WAITING | {S.INFO_ASKED}, None,
                           "la demande a déjà reçu une réponse définitive ou n'est plus ouverte"),
    Act.ASK_INFO: Transition(OWNER, _WAITING, S.INFO_ASKED,
                             "un complément ne peut être demandé qu'avant de répondre"),
    Act.GIVE_INFO: Transition(ISSUER, frozenset({S.INFO_ASKED}), S.SEEN, "aucun complément n'est attendu"),
    Act.START: Transition(OWNER, frozenset({S.ACCEPTED, S.PARTIAL}), S.IN_PROGRESS,
                          "seule une demande acceptée peut passer en cours"),
    Act.FINISH: Transition(OWNER, frozenset({S.ACCEPTED, S.PARTIAL, S.IN_PROGRESS}), S.DONE,
                           "seule une demande acceptée ou en cours peut être réalisée"),
    Act.CLOSE: Transition(ISSUER, frozenset({S.DONE, S.REFUSED}), S.CLOSED,
                          "seule une demande réalisée ou refusée peut être close"),
    Act.CANCEL: Transition(ISSUER, frozenset(S) - TERMINAL - {S.DONE, S.REFUSED}, S.CANCELLED,
                           "cette demande ne peut plus être annulée"),
    Act.ESCALATE: Transition(OWNER, _WAITING | {S.INFO_ASKED}, None,
                             "seule une demande sans réponse peut être transmise à l'autorité supérieure"),
    Act.RETURN: Transition(OWNER, _WAITING | {S.INFO_ASKED}, None,
                           "seule une demande sans réponse peut être renvoyée"),
    Act.OVERDUE: Transition(SYSTEM, frozenset(S) - TERMINAL - {S.DONE, S.REFUSED}, None,
                            "une demande close, annulée, refusée ou réalisée n'est jamais en retard"),
}


class RequestError(ValueError):
    """An act the request's state does not allow, or bad input (French message)."""


class UnknownKind(RequestError):
    pass


class NotNow(RequestError):
    """An act the request's current state does not allow (a conflict, not bad input)."""


def kind_named(code: str) -> RequestKind:
    try:
        return KINDS[code]
    except KeyError:
        raise UnknownKind(f"type de demande inconnu : {code[:40]!r} (types possibles : {', '.join(KINDS)})") from None


def reference(organisation_id: str, n: int) -> str:
    """The request's id as people and NexSIS read it: `prefecture.44.request.12`."""
    return f"{organisation_id}.request.{n}"


def due_time(deadline: str, issued_at: datetime) -> tuple[str | None, datetime | None]:
    """(the RS-DR code or None, the due time or None) of a deadline given as a code or an ISO time."""
    text = (deadline or "").strip()
    code = text.upper()
    if code in DEADLINES:
        delay = DEADLINES[code][1]
        return code, (issued_at + delay if delay is not None else None)
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise RequestError(f"délai inconnu : {text[:40]!r} (codes : {', '.join(DEADLINES)}, "
                           "ou une date ISO 8601 avec fuseau)") from None
    if at.tzinfo is None:
        raise RequestError("la date limite doit préciser son fuseau horaire")
    if at <= issued_at:
        raise RequestError("la date limite est déjà passée")
    return None, at.astimezone(UTC)


def clean_text(text: str, what: str = "le texte", *, required: bool = True) -> str:
    text = (text or "").strip()
    if (required and not text) or len(text) > TEXT_MAX:
        raise RequestError(f"{what} doit faire entre {1 if required else 0} et {TEXT_MAX} caractères")
    return text


class Request(Aggregate):
    """One request. Parties (`issuer`, `addressee`, `owner`) are directory organisations as recorded when
    they became parties: {"id", "kind", "name", "level", "code"}, so the access rules judge on what was
    true then, without a lookup."""

    @staticmethod
    def create_id(ref: str, **_: Any) -> UUID:
        return request_uuid(ref)

    @event("Issued")
    def __init__(self, ref: str, number: int, issuer: dict, addressee: dict, kind: str, text: str,
                 deadline: str | None, due_at: datetime | None, crisis_id: str | None, case_id: str | None,
                 by: dict, at: datetime, exercise: bool) -> None:
        self.ref = ref
        self.number = number
        self.issuer = issuer
        self.addressee = addressee
        self.owner = addressee
        self.escalated_from: list[dict] = []  # the owners it was escalated from, the latest last
        self.kind = kind
        self.text = text
        self.deadline = deadline
        self.due_at = due_at
        self.crisis_id = crisis_id
        self.case_id = case_id
        self.issued_by = by
        self.issued_at = at
        self.exercise = exercise
        self.status = Status.ISSUED
        self.seen_at: datetime | None = None
        self.answered_at: datetime | None = None
        self.done_at: datetime | None = None
        self.answer: dict | None = None  # the latest answer
        self.overdue_for: list[str] = []  # the due times (ISO) it was found overdue at
        self.history: list[dict] = [{"act": "issued", "label": "émise", "by": by, "at": at.isoformat(),
                                     "text": text}]

    # ---- the table ----------------------------------------------------------------------------------

    @property
    def is_final(self) -> bool:
        return self.status in TERMINAL

    def allowed(self, act: Act) -> bool:
        return self.status in TRANSITIONS[act].sources

    def check(self, act: Act) -> Transition:
        """The transition, if the state allows the act (RequestError otherwise, in French)."""
        t = TRANSITIONS[act]
        if self.is_final:
            raise NotNow(f"la demande est {STATUS_LABELS[self.status]} : elle n'accepte plus aucun acte")
        if self.status not in t.sources:
            raise NotNow(f"{t.refusal} (état : {STATUS_LABELS[self.status]})")
        if act is Act.RETURN and not self.escalated_from:
            raise NotNow("cette demande n'a pas été transmise : rien à renvoyer")
        return t

    def _note(self, act: str, label: str, by: dict | None, at: datetime, **extra: Any) -> None:
        self.history.append({"act": act, "label": label, "by": by, "at": at.isoformat(), **extra})

    # ---- events ---------------------------------------------------------------------------------------

    @event("Seen")
    def _seen(self, by: dict, at: datetime) -> None:
        self.status = Status.SEEN
        self.seen_at = at
        self._note("seen", "vue", by, at)

    @event("Answered")
    def _answered(self, answer: str, comment: str, committed_at: datetime | None, by: dict, at: datetime) -> None:
        self.status = _ANSWERED_STATUS[answer]
        if self.answered_at is None:
            self.answered_at = at
        self.answer = {"answer": answer, "label": ANSWERS[answer], "comment": comment,
                       "deadline": committed_at.isoformat() if committed_at else None, "by": by, "at": at.isoformat()}
        if committed_at is not None:
            self.due_at = committed_at
        self._note("answered", f"réponse : {ANSWERS[answer]}", by, at, answer=answer, text=comment,
                   deadline=committed_at.isoformat() if committed_at else None)

    @event("InfoAsked")
    def _info_asked(self, question: str, by: dict, at: datetime) -> None:
        self.status = Status.INFO_ASKED
        self._note("info_asked", "complément demandé", by, at, text=question)

    @event("InfoGiven")
    def _info_given(self, text: str, by: dict, at: datetime) -> None:
        self.status = Status.SEEN
        self._note("info_given", "complément apporté", by, at, text=text)

    @event("Started")
    def _started(self, comment: str, by: dict, at: datetime) -> None:
        self.status = Status.IN_PROGRESS
        self._note("started", "en cours", by, at, text=comment)

    @event("Done")
    def _done(self, comment: str, by: dict, at: datetime) -> None:
        self.status = Status.DONE
        self.done_at = at
        self._note("done", "réalisée", by, at, text=comment)

    @event("Closed")
    def _closed(self, comment: str, by: dict, at: datetime) -> None:
        self.status = Status.CLOSED
        self._note("closed", "close", by, at, text=comment)

    @event("Cancelled")
    def _cancelled(self, reason: str, by: dict, at: datetime) -> None:
        self.status = Status.CANCELLED
        self._note("cancelled", "annulée", by, at, text=reason)

    @event("Escalated")
    def _escalated(self, to: dict, reason: str, by: dict, at: datetime) -> None:
        self.escalated_from.append(self.owner)
        self.owner = to
        self._note("escalated", f"transmise à {to.get('name') or to['id']}", by, at, text=reason, to=to["id"])

    @event("Returned")
    def _returned(self, comment: str, by: dict, at: datetime) -> None:
        self.owner = self.escalated_from.pop()
        self._note("returned", f"renvoyée à {self.owner.get('name') or self.owner['id']}", by, at, text=comment,
                   to=self.owner["id"])

    @event("Overdue")
    def _overdue(self, due_at: datetime, at: datetime) -> None:
        self.overdue_for.append(due_at.isoformat())
        self._note("overdue", "en retard", None, at, due_at=due_at.isoformat())

    # ---- acts ---------------------------------------------------------------------------------------

    def see(self, by: dict, at: datetime) -> bool:
        """The first opening by a person of the owner; False (and no event) when already seen or final."""
        if self.status is not Status.ISSUED:
            return False
        self._seen(by, at)
        return True

    def answer_with(self, answer: str, comment: str, committed_at: datetime | None, by: dict, at: datetime) -> None:
        code = (answer or "").strip().upper()
        if code not in ANSWERS:
            raise RequestError(f"réponse inconnue : {answer[:20]!r} (réponses possibles : {', '.join(ANSWERS)})")
        self.check(Act.ANSWER)
        if code == REFUSEE and not (comment or "").strip():
            raise RequestError("un refus doit être motivé")
        comment = clean_text(comment, "le commentaire", required=False)
        if code == PARTIELLE:
            if committed_at is None:
                raise RequestError("une réponse partielle doit s'engager sur un délai")
            if committed_at.tzinfo is None:
                raise RequestError("le délai doit préciser son fuseau horaire")
            if committed_at <= at:
                raise RequestError("le délai promis est déjà passé")
            committed_at = committed_at.astimezone(UTC)
        else:
            committed_at = None
        self.see(by, at)  # answering implies having seen it
        self._answered(code, comment, committed_at, by, at)

    def ask_info(self, question: str, by: dict, at: datetime) -> None:
        self.check(Act.ASK_INFO)
        question = clean_text(question, "la question")
        self.see(by, at)
        self._info_asked(question, by, at)

    def give_info(self, text: str, by: dict, at: datetime) -> None:
        self.check(Act.GIVE_INFO)
        self._info_given(clean_text(text, "le complément"), by, at)

    def start(self, comment: str, by: dict, at: datetime) -> None:
        self.check(Act.START)
        self._started(clean_text(comment, "le commentaire", required=False), by, at)

    def finish(self, comment: str, by: dict, at: datetime) -> None:
        self.check(Act.FINISH)
        self._done(clean_text(comment, "le commentaire", required=False), by, at)

    def close(self, comment: str, by: dict, at: datetime) -> None:
        self.check(Act.CLOSE)
        self._closed(clean_text(comment, "le commentaire", required=False), by, at)

    def cancel(self, reason: str, by: dict, at: datetime) -> None:
        self.check(Act.CANCEL)
        self._cancelled(clean_text(reason, "le motif", required=False), by, at)

    def escalate(self, to: dict, reason: str, by: dict, at: datetime) -> None:
        self.check(Act.ESCALATE)
        if to["id"] == self.owner["id"] or any(p["id"] == to["id"] for p in self.escalated_from):
            raise RequestError("la demande est déjà passée par cette autorité")
        self.see(by, at)  # handing it on implies having read it
        self._escalated(to, clean_text(reason, "le motif", required=False), by, at)

    def give_back(self, comment: str, by: dict, at: datetime) -> None:
        self.check(Act.RETURN)
        self._returned(clean_text(comment, "le commentaire", required=False), by, at)

    def is_due(self, now: datetime) -> bool:
        """Has its due time passed, with no Overdue recorded for that due time yet?"""
        return (self.due_at is not None and now >= self.due_at and self.allowed(Act.OVERDUE)
                and self.due_at.isoformat() not in self.overdue_for)

    def next_due(self) -> datetime | None:
        """When it falls overdue next (None: never, as things stand)."""
        if self.due_at is None or not self.allowed(Act.OVERDUE) or self.due_at.isoformat() in self.overdue_for:
            return None
        return self.due_at

    def mark_overdue(self, now: datetime) -> bool:
        """Record that its due time passed; False (no event) when not due. Decided once per due time."""
        if not self.is_due(now):
            return False
        assert self.due_at is not None
        self._overdue(self.due_at, now)
        return True

    @property
    def overdue(self) -> bool:
        return self.due_at is not None and self.due_at.isoformat() in self.overdue_for and self.allowed(Act.OVERDUE)

    # ---- what readers get -----------------------------------------------------------------------------

    @property
    def time_zone(self) -> str:
        """The zone its times are shown in: the narrower party's territory (an overseas commune's own)."""
        ranks = {"commune": 0, "departement": 1, "zone": 2, "national": 3}
        p = min((self.issuer, self.addressee), key=lambda x: ranks.get(x["level"], 9))
        return zone_of(p["level"], p["code"]).key

    def parties(self) -> list[dict]:
        """Every organisation that was a party: issuer, addressee, and those it was escalated to."""
        out = {p["id"]: p for p in (self.issuer, self.addressee, *self.escalated_from, self.owner)}
        return list(out.values())

    def as_dict(self, *, history: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.ref,
            "uuid": str(self.id),
            "kind": self.kind,
            "kind_label": KINDS[self.kind].label,
            "text": self.text,
            "from_organisation_id": self.issuer["id"],
            "from_organisation": self.issuer,
            "to_organisation_id": self.addressee["id"],
            "to_organisation": self.addressee,
            "owner_organisation_id": self.owner["id"],
            "owner_organisation": self.owner,
            "status": self.status.value,
            "status_label": STATUS_LABELS[self.status],
            "deadline": self.deadline,
            "deadline_label": DEADLINES[self.deadline][0] if self.deadline else None,
            "due_at": self.due_at.isoformat() if self.due_at else None,
            "overdue": self.overdue,
            "time_zone": self.time_zone,
            "issued_at": self.issued_at.isoformat(),
            "issued_by": self.issued_by,
            "seen_at": self.seen_at.isoformat() if self.seen_at else None,
            "answered_at": self.answered_at.isoformat() if self.answered_at else None,
            "done_at": self.done_at.isoformat() if self.done_at else None,
            "answer": self.answer,
            "crisis_id": self.crisis_id,
            "case_id": self.case_id,
            "exercise": self.exercise,
            "version": self.version,
        }
        if history:
            out["history"] = list(self.history)
        return out
