"""Request use cases (domain.request), the same for every door: send, list, open, answer and move a request
along, and the watch that finds requests overdue.

Delivery goes through mobilisation: sending records, in one transaction, the request and the alert that
carries it to the addressee's people (rule `demande`, subject `demande:<id>`); an answer, a question, an
escalation… alert the party that must act next the same way (subject `demande:<id>:<act>:<version>`). So
each notice is decided once with the act that causes it, and the dispatcher delivers it like any alert
(email with a link to the request on the dashboard).

Ids. `{orgId}.request.{n}` with n counted per issuing organisation; the aggregate id derives from it
(domain.identity.request_uuid), so two processes picking the same n collide at the store, and the loser
takes the next one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError
from psycopg.rows import tuple_row
from psycopg.sql import SQL

from adapters.crisis.crises import find_crisis, organisation_of
from adapters.notify import alert_store
from adapters.store.event_store import TocsinStore
from domain.access import (
    Denied,
    Principal,
    actor,
    check_may_act_on_request,
    check_may_address,
    escalation_target,
    may_see_request,
)
from domain.alert import EMAIL, Alert
from domain.directory import Organisation, OrganisationKind
from domain.directory import organisation_id as directory_organisation_id
from domain.geography import Level
from domain.identity import request_uuid
from domain.recipients import Recipients
from domain.request import (
    KINDS,
    TRANSITIONS,
    Act,
    Request,
    RequestError,
    clean_text,
    due_time,
    kind_named,
    reference,
)

log = logging.getLogger(__name__)

RULE = "demande"
ISSUED_TOPIC = "domain.request:Request.Issued"
TOPIC_PREFIX = "domain.request:Request."
_PROBE = 100  # numbers probed per query when looking for an organisation's next one


class UnknownRequest(LookupError):
    """No such request, or not one the caller may see (the same answer: no existence leak)."""


class Directory(Protocol):
    """What the use cases need from the directory (adapters.directory.lookups.DirectoryReader has it)."""

    def organisation(self, organisation_id: str) -> Organisation | None: ...

    def organisations_in(self, territories: Sequence[tuple[Level, str]]) -> list[Organisation]: ...


def party(org: Organisation) -> dict[str, Any]:
    """A directory organisation as a request records it."""
    return {"id": org.id, "kind": org.kind.value, "name": org.name, "level": org.level.value, "code": org.code}


# ---- finding ----------------------------------------------------------------------------------------

def get_request(store: TocsinStore, uid: UUID) -> Request | None:
    try:
        found: Any = store.repository.get(uid)
    except AggregateNotFoundError:
        return None
    return found if isinstance(found, Request) else None


def _uuid_of(request_id: str | UUID) -> UUID | None:
    if isinstance(request_id, UUID):
        return request_id
    text = str(request_id).strip()
    try:
        return UUID(text)
    except ValueError:
        pass
    return request_uuid(text) if ".request." in text and len(text) <= 200 else None


def find_request(store: TocsinStore, request_id: str | UUID, principal: Principal | None) -> Request:
    """The request (by its id `prefecture.44.request.12` or its uuid), if the principal may see it (None:
    the CLI operator, who sees all)."""
    uid = _uuid_of(request_id)
    request = get_request(store, uid) if uid is not None else None
    if request is None or (principal is not None and not may_see_request(
            principal, organisation_of(principal), request.parties())):
        raise UnknownRequest("demande inconnue ou hors de votre périmètre")
    return request


def all_requests(store: TocsinStore, limit: int = 1000) -> list[Request]:
    """Every request, newest first (at most `limit`)."""
    found = (get_request(store, i) for i in alert_store.first_event_ids(store, ISSUED_TOPIC, limit))
    return [r for r in found if r is not None]


def visible_requests(store: TocsinStore, principal: Principal | None, *, box: str | None = None,
                     crisis_id: str | None = None, acting: str | None = None, limit: int = 500) -> list[Request]:
    """The requests the principal may see, newest first. `inbox`: those its organisation must act on or was
    addressed (escalated ones included); `outbox`: those it sent. `acting` overrides the principal's
    organisation (the CLI operator choosing one)."""
    if box not in (None, "", "inbox", "outbox"):
        raise RequestError("boîte inconnue : inbox (reçues) ou outbox (envoyées)")
    me = acting or (organisation_of(principal) if principal is not None else None)
    if box and me is None:
        raise RequestError("précisez l'organisation pour laquelle vous agissez")
    out = []
    for r in all_requests(store, limit):
        if principal is not None and not may_see_request(principal, organisation_of(principal), r.parties()):
            continue
        if crisis_id and r.crisis_id != crisis_id:
            continue
        if box == "outbox" and r.issuer["id"] != me:
            continue
        if box == "inbox" and me not in {p["id"] for p in (r.addressee, r.owner, *r.escalated_from)}:
            continue
        out.append(r)
    return out


def requests_of_crisis(store: TocsinStore, crisis_id: str | UUID) -> list[Request]:
    """A crisis's requests, oldest first (for the log book and the crisis page; no access check: the caller
    has checked the crisis)."""
    wanted = str(crisis_id)
    return sorted((r for r in all_requests(store, 10_000) if r.crisis_id == wanted), key=lambda r: r.issued_at)


# ---- sending ----------------------------------------------------------------------------------------

def _taken(store: TocsinStore, ids: Sequence[UUID]) -> int:
    query = SQL("SELECT count(*) FROM {} WHERE originator_id = ANY(%s) AND originator_version = 1").format(
        alert_store.table(store, "tocsin_events"))
    with store.connect() as conn, conn.cursor(row_factory=tuple_row) as cur:
        row = cur.execute(query, (list(ids),)).fetchone()
    return int(row[0]) if row else 0


def next_number(store: TocsinStore, organisation_id: str) -> int:
    """The organisation's next request number: numbers are taken in order, so the first hundred-block
    not full says where the free ones start."""
    start = 1
    while True:
        taken = _taken(store, [request_uuid(reference(organisation_id, n)) for n in range(start, start + _PROBE)])
        if taken < _PROBE:
            return start + taken
        start += _PROBE


def addressees(directory: Directory, geography: Any, principal: Principal) -> list[Organisation]:
    """The organisations the principal's organisation may send a request to, for a form to offer: those of
    its territory, of the territories just below it and of its parent territory, as domain.access allows."""
    try:
        issuer = _issuer_of(directory, principal)
    except Denied:
        return []
    here = (principal.level, principal.code)
    territories = [here, *geography.children(*here)]
    if (parent := geography.parent(*here)) is not None:
        territories.append(parent)
    out = []
    for org in directory.organisations_in(territories):
        if org.kind is OrganisationKind.NEXSIS:
            continue
        try:
            check_may_address(principal, issuer["id"], issuer, party(org), "information")
        except Denied:
            continue
        out.append(org)
    return out


def _issuer_of(directory: Directory, principal: Principal) -> dict[str, Any]:
    acting = organisation_of(principal)
    org = directory.organisation(acting) if acting else None
    if org is None:
        raise Denied("seule une organisation de l'annuaire, pour laquelle vous agissez, peut émettre une demande")
    return party(org)


def issue(store: TocsinStore, directory: Directory, recipients: Recipients, principal: Principal, *, to: str,
          kind: str, text: str, deadline: str, crisis_id: str | None = None, case_id: str | None = None,
          exercise: bool = False) -> Request:
    kind_named(kind)
    text = clean_text(text, "le texte de la demande")
    issuer = _issuer_of(directory, principal)
    addressee_org = directory.organisation((to or "").strip())
    if addressee_org is None:
        raise RequestError(f"organisation destinataire inconnue dans l'annuaire : {(to or '')[:60]!r}")
    addressee = party(addressee_org)
    if crisis_id:  # first: a crisis outside the caller's perimeter is unknown to them, whatever else
        crisis = find_crisis(store, crisis_id, principal)
        crisis.check_open()
        crisis_id = str(crisis.id)
        exercise = exercise or crisis.exercise
    check_may_address(principal, organisation_of(principal), issuer, addressee, kind)
    case_id = (case_id or "").strip() or None
    if case_id and len(case_id) > 200:
        raise RequestError("identifiant d'affaire invalide")
    by = actor(principal)
    for _ in range(10):
        now = datetime.now(UTC)
        code, due_at = due_time(deadline, now)
        n = next_number(store, issuer["id"])
        request = Request(ref=reference(issuer["id"], n), number=n, issuer=issuer, addressee=addressee, kind=kind,
                          text=text, deadline=code, due_at=due_at, crisis_id=crisis_id or None, case_id=case_id,
                          by=by, at=now, exercise=exercise)
        alert = _alert(recipients, request, addressee, f"demande:{request.ref}",
                       f"Demande de {issuer['name']} : {KINDS[kind].label} — {_short(text)}", now)
        try:
            store.save(request, alert)
            return request
        except IntegrityError:  # another request of this organisation took this number first: take the next
            continue
    raise RuntimeError(f"{issuer['id']}: no request number could be taken after 10 tries")


def _short(text: str, size: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= size else text[: size - 1] + "…"


def _alert(recipients: Recipients, request: Request, to: dict, subject: str, reason: str, now: datetime,
           *, severity: str = "information") -> Alert:
    """The notice that carries an act of the request to the people of the party that must act next."""
    people = [c.as_dict() for c in recipients.people_to_reach(to["id"], now)]
    prefix = "EXERCICE — " if request.exercise else ""
    return Alert(rule_id=RULE, subject=subject, organisation_id=to["id"], reason=prefix + reason, severity=severity,
                 recipients=people, channels=[EMAIL], exercise=request.exercise, late=False, case_id=request.case_id,
                 details={"request_id": request.ref, "request_uuid": str(request.id), "when": now.isoformat(),
                          "time_zone": request.time_zone, "place": to.get("name") or to["id"],
                          "nature": KINDS[request.kind].label,
                          "deadline": request.due_at.isoformat() if request.due_at else None},
                 trigger={"recorded_at": now.isoformat(), "sent_at": None}, escalation=[])


# ---- acting on a request ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Notice:
    """Whom an act alerts, and what it says (French)."""

    to: str  # "issuer" or "owner"
    reason: str


def _change(store: TocsinStore, recipients: Recipients | None, request_id: str | UUID, principal: Principal,
            act: Act, apply: Callable[[Request, dict, datetime], Notice | None]) -> Request:
    """Check the act is the caller's to do (domain.access, after the table's `who`), apply it to the latest
    version and save it with the notice it raises; when another act landed first, apply it again on the
    newer version (the store refuses a second event at the same version)."""
    request = find_request(store, request_id, principal)
    me = organisation_of(principal)
    by = actor(principal)
    for _ in range(5):
        check_may_act_on_request(me, TRANSITIONS[act].who, request.issuer, request.owner)
        now = datetime.now(UTC)
        notice = apply(request, by, now)
        saved: list[Any] = [request]
        if notice is not None and recipients is not None:
            to = request.issuer if notice.to == "issuer" else request.owner
            saved.append(_alert(recipients, request, to, f"demande:{request.ref}:{act.value}:{request.version}",
                                notice.reason, now))
        try:
            store.save(*saved)
            return request
        except IntegrityError:
            request = find_request(store, request.id, principal)
    raise RuntimeError(f"request {request.ref}: act could not be recorded after 5 tries")


def open_request(store: TocsinStore, request_id: str | UUID, principal: Principal | None) -> Request:
    """Read a request; the first opening by a person of its owner records « seen »."""
    request = find_request(store, request_id, principal)
    if principal is None or organisation_of(principal) != request.owner["id"] or not request.allowed(Act.SEE):
        return request
    try:
        def apply(r: Request, by: dict, now: datetime) -> None:
            r.see(by, now)

        return _change(store, None, request.id, principal, Act.SEE, apply)
    except (RequestError, Denied):  # seen meanwhile, or moved on: reading is no act
        return find_request(store, request.id, principal)


def answer(store: TocsinStore, recipients: Recipients, request_id: str | UUID, principal: Principal, *,
           code: str, comment: str = "", deadline: datetime | None = None) -> Request:
    def apply(r: Request, by: dict, now: datetime) -> Notice:
        r.answer_with(code, comment, deadline, by, now)
        assert r.answer is not None
        said = f" : {_short(r.answer['comment'])}" if r.answer["comment"] else ""
        return Notice("issuer", f"Réponse de {r.owner['name']} à votre demande {r.ref} : {r.answer['label']}{said}")

    return _change(store, recipients, request_id, principal, Act.ANSWER, apply)


def ask_info(store: TocsinStore, recipients: Recipients, request_id: str | UUID, principal: Principal,
             question: str) -> Request:
    def apply(r: Request, by: dict, now: datetime) -> Notice:
        r.ask_info(question, by, now)
        return Notice("issuer", f"{r.owner['name']} demande un complément sur votre demande {r.ref} : "
                                f"{_short(question)}")

    return _change(store, recipients, request_id, principal, Act.ASK_INFO, apply)


def give_info(store: TocsinStore, recipients: Recipients, request_id: str | UUID, principal: Principal,
              text: str) -> Request:
    def apply(r: Request, by: dict, now: datetime) -> Notice:
        r.give_info(text, by, now)
        return Notice("owner", f"Complément de {r.issuer['name']} sur la demande {r.ref} : {_short(text)}")

    return _change(store, recipients, request_id, principal, Act.GIVE_INFO, apply)


def start(store: TocsinStore, recipients: Recipients, request_id: str | UUID, principal: Principal,
          comment: str = "") -> Request:
    def apply(r: Request, by: dict, now: datetime) -> Notice:
        r.start(comment, by, now)
        return Notice("issuer", f"Votre demande {r.ref} est en cours de traitement par {r.owner['name']}")

    return _change(store, recipients, request_id, principal, Act.START, apply)


def finish(store: TocsinStore, recipients: Recipients, request_id: str | UUID, principal: Principal,
           comment: str = "") -> Request:
    def apply(r: Request, by: dict, now: datetime) -> Notice:
        r.finish(comment, by, now)
        return Notice("issuer", f"Votre demande {r.ref} a été réalisée par {r.owner['name']}")

    return _change(store, recipients, request_id, principal, Act.FINISH, apply)


def close(store: TocsinStore, request_id: str | UUID, principal: Principal, comment: str = "") -> Request:
    def apply(r: Request, by: dict, now: datetime) -> None:
        r.close(comment, by, now)

    return _change(store, None, request_id, principal, Act.CLOSE, apply)


def cancel(store: TocsinStore, recipients: Recipients, request_id: str | UUID, principal: Principal,
           reason: str = "") -> Request:
    def apply(r: Request, by: dict, now: datetime) -> Notice:
        r.cancel(reason, by, now)
        return Notice("owner", f"La demande {r.ref} de {r.issuer['name']} est annulée"
                               + (f" : {_short(reason)}" if reason.strip() else ""))

    return _change(store, recipients, request_id, principal, Act.CANCEL, apply)


def escalate(store: TocsinStore, directory: Directory, geography: Any, recipients: Recipients,
             request_id: str | UUID, principal: Principal, reason: str = "") -> Request:
    """Hand the request to the owner's parent authority (domain.access.escalation_target)."""
    def apply(r: Request, by: dict, now: datetime) -> Notice:
        owner = r.owner
        target = escalation_target(owner, geography.parent(owner["level"], owner["code"]))
        org = None
        if target is not None:
            kind, level, code = target
            org = directory.organisation(directory_organisation_id(OrganisationKind(kind), level, code))
        if org is None:
            raise RequestError("aucune autorité supérieure à qui transmettre cette demande")
        r.escalate(party(org), reason, by, now)
        return Notice("owner", f"Demande {r.ref} de {r.issuer['name']} transmise par {owner['name']} : "
                               f"{KINDS[r.kind].label} — {_short(r.text)}")

    return _change(store, recipients, request_id, principal, Act.ESCALATE, apply)


def give_back(store: TocsinStore, recipients: Recipients, request_id: str | UUID, principal: Principal,
              comment: str = "") -> Request:
    def apply(r: Request, by: dict, now: datetime) -> Notice:
        r.give_back(comment, by, now)
        return Notice("owner", f"La demande {r.ref} vous est renvoyée" + (f" : {_short(comment)}" if comment else ""))

    return _change(store, recipients, request_id, principal, Act.RETURN, apply)


# ---- overdue: a timer of the dispatcher's loop --------------------------------------------------------

class OverdueWatch:
    """Finds requests whose due time passed and records it: the Overdue event and the alerts to the owner
    and the issuer, in one transaction, once per due time (the request's own events say whether it was
    recorded, so a restart finds the same timers and never fires one twice).

    Fed by the store: each step reads the request events after its position (the index of the platform's
    own acts). Runs inside the alert dispatcher's loop (adapters.notify.dispatch.Dispatcher's `timers`),
    beside the escalation timers: one process, one lock, one loop."""

    def __init__(self, store: TocsinStore, recipients: Recipients) -> None:
        self.store = store
        self.recipients = recipients
        self.position = 0
        self.open: dict[UUID, Request] = {}  # requests with a due time still ahead or unrecorded

    def _refresh(self) -> None:
        with self.store.connect() as conn:
            while True:
                rows = alert_store.own_acts_after(conn, self.store, self.position)
                if not rows:
                    return
                self.position = rows[-1][0]
                for oid in dict.fromkeys(o for _, o, t in rows if t.startswith(TOPIC_PREFIX)):
                    request = get_request(self.store, oid)
                    if request is not None and request.next_due() is not None:
                        self.open[oid] = request
                    else:
                        self.open.pop(oid, None)

    def step(self, now: datetime) -> int:
        """Record every overdue request; how many."""
        self._refresh()
        fired = 0
        for oid, request in list(self.open.items()):
            if not request.is_due(now):
                if request.next_due() is None:
                    del self.open[oid]
                continue
            if self._fire(oid, now):
                fired += 1
        return fired

    def _fire(self, oid: UUID, now: datetime) -> bool:
        for _ in range(5):
            request = get_request(self.store, oid)
            if request is None or not request.mark_overdue(now):
                self.open.pop(oid, None)
                return False
            due = request.overdue_for[-1]
            reason = f"Demande {request.ref} en retard : {KINDS[request.kind].label} — {_short(request.text)}"
            alerts = [_alert(self.recipients, request, p, f"demande:{request.ref}:retard:{due}:{role}", reason, now,
                             severity="grave")
                      for role, p in (("destinataire", request.owner), ("emetteur", request.issuer))]
            try:
                self.store.save(request, *alerts)
            except IntegrityError:  # an act landed first (an answer…): judge on the newer version
                continue
            self.open.pop(oid, None)
            return True
        return False

    def next_due(self) -> datetime | None:
        return min((t for r in self.open.values() if (t := r.next_due()) is not None), default=None)
