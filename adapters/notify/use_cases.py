"""Mobilisation's use cases, the same for every door (HTTP, the acknowledgement page, the CLI)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

from adapters import metrics
from adapters.notify import alert_store
from adapters.notify.tokens import BadToken, read_token
from adapters.settings import resolved_alert_token_key
from adapters.store.event_store import TocsinStore
from domain.access import Denied, Principal, check_may_acknowledge, may_see_alert
from domain.alert import Alert

# Channels an acknowledgement comes through.
VIA_EMAIL_LINK = "lien du courriel"
VIA_DASHBOARD = "tableau de bord"
VIA_CLI = "ligne de commande"


class UnknownAlert(LookupError):
    """No such alert, or not one the caller may see (the same answer: existence is not disclosed)."""


@dataclass(frozen=True)
class AckOutcome:
    alert: Alert
    recorded: bool  # False: it was acknowledged already (by `alert.acknowledged_by`)

    def as_dict(self) -> dict:
        """What the API and `tocsin alerts ack --json` answer (api.schemas.AckResult)."""
        return {"recorded": self.recorded, "alert": self.alert.summary()}


def visible_alerts(store: TocsinStore, principal: Principal | None, limit: int = 200) -> list[dict]:
    """The alerts the principal may see, newest first (None: the CLI operator, who sees all)."""
    return [a.summary() for a in alert_store.recent_alerts(store, limit)
            if principal is None or may_see_alert(principal, a.organisation_id, a.recipients)]


def find_alert(store: TocsinStore, alert_id: str, principal: Principal | None) -> Alert:
    try:
        uid = UUID(alert_id)
    except ValueError as e:
        raise UnknownAlert("identifiant d'alerte invalide") from e
    alert = alert_store.get_alert(store, uid)
    if alert is None or (principal is not None and not may_see_alert(principal, alert.organisation_id,
                                                                     alert.recipients)):
        raise UnknownAlert("alerte inconnue ou hors de votre périmètre")
    return alert


def acknowledge(store: TocsinStore, alert: Alert, *, person_id: str, name: str, grant_id: str | None,
                channel: str) -> AckOutcome:
    """Record the first acknowledgement; a later one records nothing and says who came first."""
    from eventsourcing.persistence import IntegrityError

    for _ in range(5):
        if alert.acknowledged_at is not None:
            return AckOutcome(alert, recorded=False)
        alert.acknowledge(person_id, name, grant_id, channel, datetime.now(UTC))
        try:
            store.save(alert)
            metrics.ALERTS_ACKNOWLEDGED.inc()
            return AckOutcome(alert, recorded=True)
        except IntegrityError:  # a delivery event or another acknowledgement landed first: read again
            fresh = alert_store.get_alert(store, alert.id)
            assert fresh is not None
            alert = fresh
    raise RuntimeError(f"alert {alert.id}: acknowledgement could not be recorded after 5 tries")


def acknowledge_as(store: TocsinStore, alert_id: str, principal: Principal, channel: str = VIA_DASHBOARD) -> AckOutcome:
    alert = find_alert(store, alert_id, principal)
    check_may_acknowledge(principal, alert.organisation_id, alert.recipients)
    return acknowledge(store, alert, person_id=principal.subject, name=principal.name or principal.subject,
                       grant_id=principal.grant_id, channel=channel)


def acknowledge_as_operator(store: TocsinStore, alert_id: str, operator: str) -> AckOutcome:
    """The CLI operator (who holds the server's keys) acknowledges on behalf of the organisation."""
    alert = find_alert(store, alert_id, None)
    return acknowledge(store, alert, person_id=operator, name=f"opérateur ({operator})", grant_id=None,
                       channel=VIA_CLI)


def alert_for_token(store: TocsinStore, settings: object, token: str) -> tuple[Alert, dict]:
    """The alert and the person an acknowledgement link names; BadToken or UnknownAlert otherwise."""
    from adapters.settings import Settings

    assert isinstance(settings, Settings)
    ack = read_token(resolved_alert_token_key(settings), token)
    alert = alert_store.get_alert(store, ack.alert_id)
    if alert is None:
        raise UnknownAlert("alerte inconnue")
    person = next((r for r in alert.recipients if r["person_id"] == ack.person_id), None)
    if person is None:
        raise BadToken("token names someone the alert did not reach")
    return alert, person


def acknowledge_by_token(store: TocsinStore, settings: object, token: str) -> AckOutcome:
    alert, person = alert_for_token(store, settings, token)
    return acknowledge(store, alert, person_id=person["person_id"], name=person.get("name") or person["person_id"],
                       grant_id=person.get("grant_id"), channel=VIA_EMAIL_LINK)


__all__ = ["AckOutcome", "BadToken", "Denied", "UnknownAlert", "acknowledge_as", "acknowledge_by_token",
           "alert_for_token", "find_alert", "visible_alerts"]
