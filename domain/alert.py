"""The alert aggregate: a decision to reach people, every attempt to reach them, and who answered.

An alert is raised by a policy (adapters.notify.policy) when Tocsin records an event that a rule
(domain.alert_rules) says matters to an organisation. Its id is `alert_uuid(rule, subject)`, so one rule
decides at most once about one subject, whoever evaluates it and however often. Everything after the
decision is an event of the alert too: each delivery attempt and its outcome (so a notification that
never went out is visible, and one that went out is never sent again), the acknowledgement (who, under
which habilitation, through which channel) and the escalations.

Lives in the same event store as the cases: chained by the audit trail like them, ignored by the case
views (their decoder only reads case events) and by the NexSIS message counts (no message index row).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.identity import alert_uuid

# Delivery states of one (person, channel).
PENDING = "en attente"
ATTEMPTING = "en cours"  # an attempt recorded, its outcome not (yet): after a crash, in doubt
SENT = "envoyé"
FAILED = "échec"  # final: no more attempts

EMAIL = "email"
PUSH = "push"
SMS = "sms"
VOICE = "voix"
CHANNELS = (EMAIL, PUSH, SMS, VOICE)


def delivery_key(person_id: str, channel: str) -> str:
    return f"{channel}:{person_id}"


class Alert(Aggregate):
    """One decision to reach the people of an organisation about a subject (a case, a département's hour…)."""

    @staticmethod
    def create_id(rule_id: str, subject: str, **_: Any) -> UUID:
        return alert_uuid(rule_id, subject)

    @event("AlertRaised")
    def __init__(
        self, rule_id: str, subject: str, organisation_id: str, reason: str, severity: str,
        recipients: list[dict], channels: list[str], exercise: bool, late: bool, case_id: str | None,
        details: dict, trigger: dict, escalation: list[dict],
    ) -> None:
        self.rule_id = rule_id
        self.subject = subject
        self.organisation_id = organisation_id
        self.reason = reason  # French, shown as is
        self.severity = severity
        self.recipients = recipients  # domain.recipients.Contact.as_dict() of each person reached
        self.channels = channels
        self.exercise = exercise
        self.late = late  # « tardif »: the message's own date was already old when Tocsin recorded it
        self.case_id = case_id
        self.details = details  # what, where, when (ISO, UTC), the zone to show it in, how serious
        self.trigger = trigger  # the event that decided it: notification id, distribution id, message time
        # The tiers to alert next while nobody acknowledges: {"tier", "after_seconds", "organisation_id"}.
        self.escalation = escalation
        self.deliveries: dict[str, dict] = {
            delivery_key(r["person_id"], c): {"person_id": r["person_id"], "channel": c, "status": PENDING,
                                               "attempts": 0, "reason": None, "sent_at": None, "retry_at": None}
            for r in recipients for c in channels
        }
        self.acknowledged_at: datetime | None = None
        self.acknowledged_by: dict | None = None
        self.escalations: list[dict] = []
        self.unreached: dict | None = None  # {"reason", "at"} while the alert has reached nobody

    @property
    def raised_at(self) -> datetime:
        return self.created_on

    @event("DeliveryAttempted")
    def attempt(self, person_id: str, channel: str, attempt: int, reference: str) -> None:
        """Recorded before the attempt: an attempt with no outcome was interrupted, and is never repeated
        blindly (the message may have left)."""
        d = self._delivery(person_id, channel)
        d.update(status=ATTEMPTING, attempts=attempt, reference=reference)

    @event("DeliverySent")
    def sent(self, person_id: str, channel: str, attempt: int, at: datetime, delay_seconds: float) -> None:
        """The channel accepted the message (the SMTP server, the push service, the gateway) at `at`;
        `delay_seconds` from the recording of the event that raised the alert."""
        d = self._delivery(person_id, channel)
        d.update(status=SENT, sent_at=at.isoformat(), delay_seconds=delay_seconds, reason=None)
        self.unreached = None  # someone was reached after all (an escalation's person)

    @event("DeliveryFailed")
    def failed(self, person_id: str, channel: str, attempt: int, reason: str, retry_at: str | None) -> None:
        """`retry_at` (ISO) when another attempt will be made; None: final."""
        d = self._delivery(person_id, channel)
        d.update(status=PENDING if retry_at else FAILED, reason=reason, retry_at=retry_at)

    @event("Acknowledged")
    def acknowledge(self, person_id: str, name: str, grant_id: str | None, channel: str, at: datetime) -> None:
        """The first acknowledgement ends the alert's escalation (the caller records only the first)."""
        self.acknowledged_at = at
        self.acknowledged_by = {"person_id": person_id, "name": name, "grant_id": grant_id, "channel": channel}

    @event("Escalated")
    def escalate(self, tier: int, organisation_id: str, recipients: list[dict], reason: str, at: datetime) -> None:
        self.escalations.append({"tier": tier, "organisation_id": organisation_id, "reason": reason,
                                 "at": at.isoformat()})
        for r in recipients:
            if not any(x["person_id"] == r["person_id"] for x in self.recipients):
                self.recipients.append(r)
            for c in self.channels:
                self.deliveries.setdefault(delivery_key(r["person_id"], c), {
                    "person_id": r["person_id"], "channel": c, "status": PENDING, "attempts": 0, "reason": None,
                    "sent_at": None, "retry_at": None,
                })

    @event("ReachedNobody")
    def reached_nobody(self, reason: str, at: datetime) -> None:
        """Every attempt is over and none reached anyone: nobody habilitated to reach, or no channel took a
        message for any of them. Said once, on the alert, for the people above to see (a silent alert is
        the failure mobilisation must never hide)."""
        self.unreached = {"reason": reason, "at": at.isoformat()}

    def reaches_nobody(self) -> str | None:
        """Why the alert has reached nobody so far, once no delivery is left to try (None: someone was
        reached, something is still being tried, or it was already said)."""
        if self.unreached is not None or self.acknowledged_at is not None:
            return None
        states = [d["status"] for d in self.deliveries.values()]
        if any(s in (PENDING, ATTEMPTING, SENT) for s in states):
            return None
        if not self.recipients:
            return "personne à joindre : aucune personne habilitée dans l'annuaire pour l'organisation alertée"
        reasons = sorted({d["reason"] for d in self.deliveries.values() if d.get("reason")})
        return "aucune personne jointe" + (" : " + " ; ".join(reasons) if reasons else "")

    def due_tier(self, now: datetime) -> dict | None:
        """The escalation tier due now, if nobody acknowledged: the first one not escalated yet whose
        delay since the alert was raised has passed. Derived from the events alone, so a restart finds the
        same timers, and a tier once escalated is never due again."""
        if self.acknowledged_at is not None:
            return None
        done = {e["tier"] for e in self.escalations}
        for tier in self.escalation:
            if tier["tier"] in done:
                continue
            due = (now - self.raised_at).total_seconds() >= tier["after_seconds"]
            return tier if due else None
        return None

    def next_escalation_at(self) -> datetime | None:
        """When the next tier falls due (None: acknowledged, or no tier left)."""
        from datetime import timedelta

        if self.acknowledged_at is not None:
            return None
        done = {e["tier"] for e in self.escalations}
        for tier in self.escalation:
            if tier["tier"] not in done:
                return self.raised_at + timedelta(seconds=tier["after_seconds"])
        return None

    def _delivery(self, person_id: str, channel: str) -> dict:
        return self.deliveries.setdefault(delivery_key(person_id, channel), {
            "person_id": person_id, "channel": channel, "status": PENDING, "attempts": 0, "reason": None,
            "sent_at": None, "retry_at": None,
        })

    def reached(self, person_id: str) -> bool:
        return any(r["person_id"] == person_id for r in self.recipients)

    def summary(self) -> dict[str, Any]:
        """What the API and the CLI list of an alert."""
        return {
            "id": str(self.id),
            "rule": self.rule_id,
            "reason": self.reason,
            "subject": self.subject,
            "case_id": self.case_id,
            "organisation_id": self.organisation_id,
            "severity": self.severity,
            "exercise": self.exercise,
            "late": self.late,
            "raised_at": self.raised_at.isoformat(),
            "people_reached": [
                {"person_id": r["person_id"], "name": r["name"], "organisation_id": r["organisation_id"]}
                for r in self.recipients
            ],
            "channels": list(self.channels),
            "deliveries": [
                {k: d.get(k) for k in ("person_id", "channel", "status", "attempts", "reason", "sent_at")}
                for d in self.deliveries.values()
            ],
            "details": self.details,
            "acknowledged_at": self.acknowledged_at.isoformat() if self.acknowledged_at else None,
            "acknowledged_by": self.acknowledged_by,
            "escalations": list(self.escalations),
            "unreached": getattr(self, "unreached", None),
        }
