"""Call-out use cases (domain.callout), the same for every door: launch, answer, list.

Launching records, in one transaction, the call-out and the alert that carries it to the people asked
(rule `appel-mobilisation`, subject `appel:<id>`): the dispatcher then delivers it like any alert, with
answer links in the email. So the invitation is decided once, delivered at least once and never twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from adapters.notify import alert_store
from adapters.notify.tokens import ANSWER, BadToken, read_token
from adapters.settings import Settings, resolved_alert_token_key
from adapters.store.event_store import TocsinStore
from domain.access import Principal, actor, check_may_launch_callout, may_see_callout
from domain.alert import EMAIL, Alert
from domain.callout import DEFAULT_CHOICES, CallOut
from domain.recipients import Recipients

CALLOUT_RULE = "appel-mobilisation"
LAUNCHED_TOPIC = "domain.callout:CallOut.Launched"


class UnknownCallOut(LookupError):
    """No such call-out, or not one the caller may see."""


@dataclass(frozen=True)
class Launched:
    callout: CallOut
    alert: Alert


def launch(store: TocsinStore, recipients: Recipients, principal: Principal, *, question: str,
           organisation_ids: Sequence[str], deadline: datetime, choices: Sequence[str] = DEFAULT_CHOICES,
           exercise: bool = False, channels: Sequence[str] = (EMAIL,)) -> Launched:
    check_may_launch_callout(principal, organisation_ids)
    question = question.strip()
    if not question or len(question) > 500:
        raise ValueError("la question doit faire entre 1 et 500 caractères")
    if deadline.tzinfo is None:
        raise ValueError("la date limite doit préciser son fuseau horaire")
    now = datetime.now(UTC)
    if deadline <= now:
        raise ValueError("la date limite est déjà passée")
    people: dict[str, dict] = {}
    for organisation_id in organisation_ids:
        for contact in recipients.everyone(organisation_id, now):  # a call-out asks the whole group, on duty or not
            people.setdefault(contact.person_id, contact.as_dict())
    callout = CallOut(question=question, choices=list(choices), deadline=deadline,
                      organisation_ids=list(organisation_ids), group=list(people.values()),
                      launched_by=actor(principal), exercise=exercise)
    reason = ("EXERCICE — " if exercise else "") + f"Appel à mobilisation : {question}"
    alert = Alert(rule_id=CALLOUT_RULE, subject=f"appel:{callout.id}", organisation_id=organisation_ids[0],
                  reason=reason, severity="grave", recipients=list(people.values()), channels=list(channels),
                  exercise=exercise, late=False, case_id=None,
                  details={"callout_id": str(callout.id), "choices": list(choices), "deadline": deadline.isoformat(),
                           "when": now.isoformat(), "time_zone": "Europe/Paris", "place": "",
                           "nature": "Appel à mobilisation"},
                  trigger={"recorded_at": now.isoformat(), "sent_at": None}, escalation=[])
    store.save(callout, alert)
    return Launched(callout, alert)


def get_callout(store: TocsinStore, callout_id: UUID) -> CallOut | None:
    try:
        found: Any = store.repository.get(callout_id)
    except AggregateNotFoundError:
        return None
    return found if isinstance(found, CallOut) else None


def find_callout(store: TocsinStore, callout_id: str, principal: Principal | None) -> CallOut:
    try:
        uid = UUID(callout_id)
    except ValueError as e:
        raise UnknownCallOut("identifiant d'appel invalide") from e
    callout = get_callout(store, uid)
    if callout is None or (principal is not None and not may_see_callout(
            principal, callout.organisation_ids, callout.group, callout.launched_by)):
        raise UnknownCallOut("appel inconnu ou hors de votre périmètre")
    return callout


def visible_callouts(store: TocsinStore, principal: Principal | None, limit: int = 100) -> list[dict]:
    found = (get_callout(store, i) for i in alert_store.first_event_ids(store, LAUNCHED_TOPIC, limit))
    return [c.summary() for c in found if c is not None and (principal is None or may_see_callout(
        principal, c.organisation_ids, c.group, c.launched_by))]


def _answer(store: TocsinStore, callout: CallOut, person_id: str, name: str, choice: str, channel: str,
            grant_id: str | None) -> CallOut:
    for _ in range(5):
        callout.answer(person_id, name, choice, channel, grant_id, datetime.now(UTC))
        try:
            store.save(callout)
            return callout
        except IntegrityError:  # another answer landed first: answer on the latest
            fresh = get_callout(store, callout.id)
            assert fresh is not None
            callout = fresh
    raise RuntimeError(f"call-out {callout.id}: answer could not be recorded after 5 tries")


def answer_as(store: TocsinStore, callout_id: str, principal: Principal, choice: str) -> CallOut:
    """The principal answers for themselves: they must be one of the people asked (domain.callout)."""
    callout = find_callout(store, callout_id, principal)
    person = next((p for p in callout.group if principal.subject in (p["person_id"], p.get("email"))), None)
    person_id = person["person_id"] if person else principal.subject
    return _answer(store, callout, person_id, principal.name or (person or {}).get("name") or principal.subject,
                   choice, "tableau de bord", principal.grant_id)


def callout_for_token(store: TocsinStore, settings: Settings, token: str) -> tuple[CallOut, dict]:
    ack = read_token(resolved_alert_token_key(settings), token, ANSWER)
    callout = get_callout(store, ack.alert_id)
    if callout is None:
        raise UnknownCallOut("appel inconnu")
    person = next((p for p in callout.group if p["person_id"] == ack.person_id), None)
    if person is None:
        raise BadToken("token names someone the call-out did not ask")
    return callout, person


def answer_by_token(store: TocsinStore, settings: Settings, token: str, choice: str) -> CallOut:
    callout, person = callout_for_token(store, settings, token)
    return _answer(store, callout, person["person_id"], person.get("name") or person["person_id"], choice,
                   "lien du courriel", person.get("grant_id"))
