"""Alerts to the population (domain.population_alert), the same use cases for every door: draft, list, show,
approve, refuse, update, cancel, publish again.

Drafting (and drafting a new version) records, in one transaction, the alert and the Alert that asks the
préfecture to decide (rule `alerte-population-a-valider`, subject `population:<id>:<version>`): the
dispatcher delivers it like any alert. Approving prepares the CAP message (adapters.cap.builder, valid
against the OASIS schema), records it, then hands it to the gateway and records the outcome: published,
or failed with the reason (no gateway configured, unreachable, refused), to be published again later.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError
from eventsourcing.utils import get_topic

from adapters.cap.builder import GEOCODE_INSEE, Area, Message, build, polygons_of
from adapters.cap.gateway import NO_GATEWAY, CapGateway, PublicationError
from adapters.crisis.crises import UnknownCrisis, find_crisis
from adapters.geography import Geography
from adapters.notify import alert_store
from adapters.settings import Settings
from adapters.store.event_store import TocsinStore
from domain.access import (
    Principal,
    actor,
    check_may_cancel_population_alert,
    check_may_decide_population_alert,
    check_may_draft_population_alert,
    may_see_population_alert,
)
from domain.alert import EMAIL, Alert
from domain.crisis import CrisisClosed
from domain.geography import Level
from domain.local_time import zone_of_departement
from domain.population_alert import PopulationAlert, Refused, WrongState, checked_content
from domain.recipients import Recipients

RULE = "alerte-population-a-valider"
DRAFTED_TOPIC = get_topic(PopulationAlert) + ".Drafted"  # the class @event("Drafted") defines
_SENDER_FORBIDS = re.compile(r"[\s,<&]")
# The acts as the history shows them.
ACTS = {"Drafted": "rédigée", "UpdateDrafted": "nouvelle version rédigée", "Approved": "validée",
        "Refused": "refusée", "Cancelled": "annulée", "Published": "publiée",
        "PublicationFailed": "échec de publication"}


class UnknownPopulationAlert(LookupError):
    """No such alert, or not one the caller may see."""


# ---- reading ------------------------------------------------------------------------------------


def get_alert(store: TocsinStore, alert_id: UUID) -> PopulationAlert | None:
    try:
        found: Any = store.repository.get(alert_id)
    except AggregateNotFoundError:
        return None
    return found if isinstance(found, PopulationAlert) else None


def find(store: TocsinStore, alert_id: str, principal: Principal | None) -> PopulationAlert:
    """The alert, if it exists and the principal may see it (None: the server's operator); else one answer."""
    try:
        uid = UUID(alert_id)
    except ValueError as e:
        raise UnknownPopulationAlert("identifiant d'alerte invalide") from e
    alert = get_alert(store, uid)
    if alert is None or (principal is not None and not may_see_population_alert(principal, alert.insee)):
        raise UnknownPopulationAlert("alerte à la population inconnue ou hors de votre périmètre")
    return alert


def visible(store: TocsinStore, principal: Principal | None, limit: int = 100) -> list[dict]:
    found = (get_alert(store, i) for i in alert_store.first_event_ids(store, DRAFTED_TOPIC, limit))
    return [summary(a) for a in found
            if a is not None and (principal is None or may_see_population_alert(principal, a.insee))]


def summary(alert: PopulationAlert) -> dict:
    zone = zone_of_departement(alert.departement)
    return {
        "id": str(alert.id), "insee": alert.insee, "commune": alert.commune_name,
        "departement": alert.departement, "time_zone": zone.key, "state": alert.state,
        "crisis_id": alert.crisis_id, "exercise": alert.exercise,
        "drafted_at": alert.created_on.isoformat(), "drafted_by": alert.versions[0]["drafted_by"],
        "content": alert.current["content"], "versions": alert.versions,
        "messages": [{k: m[k] for k in ("identifier", "msg_type", "sender", "sent", "references", "status",
                                        "attempts", "version", "xml")} for m in alert.messages],
        "cancelled": alert.cancelled,
    }


def history(store: TocsinStore, alert: PopulationAlert) -> list[dict]:
    """Every act on the alert, from its events: what, when, who."""
    out = []
    for e in store.events.get(alert.id):
        name = type(e).__name__
        by = getattr(e, "by", None) or getattr(e, "drafted_by", None)
        item = {"version": e.originator_version, "act": name, "label": ACTS.get(name, name),
                "recorded_at": getattr(e, "timestamp").isoformat(), "by": by}  # noqa: B009
        for key in ("reason", "identifier", "gateway"):
            if getattr(e, key, None) is not None:
                item[key] = getattr(e, key)
        out.append(item)
    return out


# ---- acts ---------------------------------------------------------------------------------------


def draft(store: TocsinStore, geography: Geography, recipients: Recipients, principal: Principal, *,
          insee: str, content: Mapping[str, Any], crisis_id: str | None = None,
          exercise: bool = False) -> PopulationAlert:
    insee = (insee or "").strip()
    if not geography.exists(Level.COMMUNE, insee):
        raise Refused(f"commune inconnue : {insee}")
    check_may_draft_population_alert(principal, insee)
    commune = geography.name(Level.COMMUNE, insee)
    checked = checked_content(content, default_area=f"Commune de {commune} ({insee})")
    crisis_id = (crisis_id or "").strip() or None
    if crisis_id is not None:
        # The crisis it belongs to: one the mairie takes part in, still open (a closed crisis takes no act).
        try:
            crisis = find_crisis(store, crisis_id, principal)
        except UnknownCrisis:
            raise Refused("crisis_id : crise inconnue ou hors de votre périmètre") from None
        try:
            crisis.check_open()
        except CrisisClosed as e:
            raise Refused(str(e)) from None
        crisis_id = str(crisis.id)
    departement = geography.communes[insee].departement
    now = datetime.now(UTC)
    alert = PopulationAlert(insee=insee, departement=departement, commune_name=commune, content=checked,
                            drafted_by=actor(principal), crisis_id=crisis_id, exercise=exercise, at=now)
    store.save(alert, _ask_prefecture(alert, recipients, now))
    return alert


def update(store: TocsinStore, recipients: Recipients, principal: Principal, alert_id: str,
           content: Mapping[str, Any]) -> PopulationAlert:
    alert = find(store, alert_id, principal)
    check_may_draft_population_alert(principal, alert.insee)
    checked = checked_content(content, default_area=alert.current["content"]["area_desc"])

    def act(a: PopulationAlert) -> list:
        a.update(checked, actor(principal), datetime.now(UTC))
        return [_ask_prefecture(a, recipients, datetime.now(UTC))]

    return _save(store, alert, act)


def refuse(store: TocsinStore, principal: Principal, alert_id: str, reason: str) -> PopulationAlert:
    alert = find(store, alert_id, principal)
    check_may_decide_population_alert(principal, alert.departement)
    return _save(store, alert, lambda a: a.refuse(actor(principal), reason, datetime.now(UTC)))


def approve(store: TocsinStore, settings: Settings, geography: Geography, gateway: CapGateway | None,
            principal: Principal, alert_id: str) -> PopulationAlert:
    alert = find(store, alert_id, principal)
    check_may_decide_population_alert(principal, alert.departement)

    def act(a: PopulationAlert) -> None:
        now = datetime.now(UTC)
        a.approve(actor(principal), now, _prepare(a, settings, geography, now, a.next_msg_type()))

    return publish_outbox(store, gateway, _save(store, alert, act))


def cancel(store: TocsinStore, settings: Settings, geography: Geography, gateway: CapGateway | None,
           principal: Principal, alert_id: str, reason: str) -> PopulationAlert:
    alert = find(store, alert_id, principal)
    check_may_cancel_population_alert(principal, alert.insee, alert.departement)

    def act(a: PopulationAlert) -> None:
        now = datetime.now(UTC)
        message = _prepare(a, settings, geography, now, "Cancel", note=reason) if a.published else None
        a.cancel(actor(principal), reason, now, message)

    return publish_outbox(store, gateway, _save(store, alert, act))


def publish_again(store: TocsinStore, gateway: CapGateway | None, principal: Principal,
                  alert_id: str) -> PopulationAlert:
    """After a failure: the préfecture hands the same messages to the gateway again."""
    alert = find(store, alert_id, principal)
    check_may_decide_population_alert(principal, alert.departement)
    if not alert.outbox:
        raise WrongState("aucun message en attente de publication pour cette alerte")
    return publish_outbox(store, gateway, alert)


def publish_outbox(store: TocsinStore, gateway: CapGateway | None, alert: PopulationAlert) -> PopulationAlert:
    """Hand each waiting message to the gateway, in order, recording each outcome; stop at the first failure
    (an Update must not reach people before the Alert it updates)."""
    for message in list(alert.outbox):
        identifier = message["identifier"]
        where = gateway.describe() if gateway is not None else None
        reason: str | None = NO_GATEWAY
        if gateway is not None:
            try:
                gateway.publish(identifier, message["xml"].encode())
                reason = None
            except PublicationError as e:
                reason = str(e)

        def record(a: PopulationAlert, identifier: str = identifier, where: str | None = where,
                   reason: str | None = reason) -> None:
            if reason is None and where is not None:
                a.published_to(identifier, where, datetime.now(UTC))
            else:
                a.failed_to_publish(identifier, where, reason or NO_GATEWAY, datetime.now(UTC))

        alert = _save(store, alert, record)
        if reason is not None:
            break
    return alert


# ---- helpers ------------------------------------------------------------------------------------


def _prepare(alert: PopulationAlert, settings: Settings, geography: Geography, now: datetime, msg_type: str,
             note: str | None = None) -> dict:
    """The next CAP message of the alert, built and valid, as the event records it."""
    sender = settings.cap_sender
    if not sender or _SENDER_FORBIDS.search(sender):
        raise ValueError("TOCSIN_CAP_SENDER : sans espace, virgule, '<' ni '&'")
    content = alert.current["content"] if msg_type != "Cancel" else None
    area = None
    if content is not None:
        area = Area(desc=content["area_desc"], polygons=polygons_of(geography.boundary(Level.COMMUNE, alert.insee)),
                    geocodes={GEOCODE_INSEE: alert.insee})
    message = Message(identifier=alert.next_identifier("tocsin"), sender=sender, sent=now,
                      zone=zone_of_departement(alert.departement), msg_type=msg_type, exercise=alert.exercise,
                      references=alert.references() if msg_type != "Alert" else (), note=note, content=content,
                      sender_name=f"Mairie de {alert.commune_name}, validé par la préfecture ({alert.departement})",
                      area=area)
    xml = build(message)
    return {"identifier": message.identifier, "sender": sender, "sent": message.sent_text, "msg_type": msg_type,
            "references": list(message.references), "xml": xml.decode()}


def _ask_prefecture(alert: PopulationAlert, recipients: Recipients, now: datetime) -> Alert:
    """The Alert that asks the préfecture to decide on the alert's current version."""
    prefecture = f"prefecture.{alert.departement}"
    version = alert.current
    people = {c.person_id: c.as_dict() for c in recipients.people_to_reach(prefecture, now)}
    reason = (("EXERCICE — " if alert.exercise else "") + f"Alerte à la population à valider ({alert.commune_name})"
              f" : {version['content']['headline']}")
    return Alert(rule_id=RULE, subject=f"population:{alert.id}:{version['number']}", organisation_id=prefecture,
                 reason=reason, severity="grave", recipients=list(people.values()), channels=[EMAIL],
                 exercise=alert.exercise, late=False, case_id=None,
                 details={"population_alert_id": str(alert.id), "when": now.isoformat(),
                          "time_zone": zone_of_departement(alert.departement).key,
                          "place": f"{alert.commune_name} ({alert.insee})", "nature": "Alerte à la population",
                          "insee": alert.insee, "departement": alert.departement},
                 trigger={"recorded_at": now.isoformat(), "sent_at": None}, escalation=[])


def _save(store: TocsinStore, alert: PopulationAlert, act: Callable[[PopulationAlert], Any]) -> PopulationAlert:
    """Apply the act and save (with what it returns to save beside it); on a concurrent act, again on the
    latest state, where the domain decides whether it still holds."""
    for _ in range(5):
        also = act(alert) or []
        try:
            store.save(alert, *also)
            return alert
        except IntegrityError:
            fresh = get_alert(store, alert.id)
            assert fresh is not None
            alert = fresh
    raise RuntimeError(f"population alert {alert.id}: act could not be recorded after 5 tries")
