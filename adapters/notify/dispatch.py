"""Delivery: every alert's (person, channel) pairs, attempted until sent or given up, each step an event.

An outbox in the event store itself: the alert's events say what is due. Before each attempt the
dispatcher records `DeliveryAttempted` (with the message's stable reference), then sends, then records
`DeliverySent` or `DeliveryFailed` (with the French reason and, while worth it, when it will try again:
back-off doubling up to `MAX_BACKOFF`, at most `MAX_ATTEMPTS`). So:

- nothing is sent twice: a pair that is sent is never attempted again, and an attempt with no outcome
  (the process died between sending and recording) is not repeated blindly, since the message may have
  left; it is recorded as failed, in doubt, for people to see, rather than risk a duplicate;
- nothing fails silently: a channel that does not exist here (no SMS gateway configured…) or a person
  with no address is a recorded failure, never "sent";
- a replay or a rebuild sends nothing: only this process sends, from the alerts' own events.

One dispatcher sends at a time (an advisory lock); writes use the alert's version, so an acknowledgement
landing meanwhile makes the write fail and the alert is read again.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Protocol
from uuid import UUID

import psycopg
from eventsourcing.persistence import IntegrityError

from adapters import metrics
from adapters.notify import alert_store
from adapters.notify.email_body import compose, message_id
from adapters.notify.smtp import DeliveryError, SmtpConfig, SmtpSender
from adapters.notify.tokens import ANSWER, make_token
from adapters.settings import Settings, resolved_alert_token_key
from adapters.store.event_store import TocsinStore
from adapters.store.locks import run_while_leading
from domain.alert import ATTEMPTING, EMAIL, PENDING, PUSH, SMS, VOICE, Alert
from domain.recipients import Contact, Recipients

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 6
SEND_THREADS = 8
FIRST_BACKOFF = timedelta(seconds=5)
MAX_BACKOFF = timedelta(minutes=5)
IN_DOUBT = ("envoi interrompu avant d'en connaître l'issue : le message a pu partir, il n'est pas renvoyé "
            "pour éviter un doublon")
CHANNEL_LABELS = {EMAIL: "courriel", SMS: "SMS", VOICE: "appel vocal", "push": "notification push"}


class Channel(Protocol):
    name: str

    def reference(self, alert: Alert, contact: Contact) -> str:
        """The stable reference of what is sent to this person (the same for every attempt)."""
        ...

    def unreachable(self, contact: Contact) -> str | None:
        """Why this person cannot be reached on this channel (French), before any attempt; None: they can."""
        ...

    def send(self, alert: Alert, contact: Contact) -> None:
        """Hand the message to the channel; DeliveryError when it does not accept it."""
        ...


class Timer(Protocol):
    """Another fire-once timer kept by this loop (adapters.crisis.requests.OverdueWatch): it reads what is due
    from the store's events and records what it decides as events, like the escalation tiers."""

    def step(self, now: datetime) -> int:
        """Record what is due now; how many things were recorded."""
        ...

    def next_due(self) -> datetime | None:
        ...


class EmailChannel:
    name = EMAIL

    def __init__(self, sender: SmtpSender, settings: Settings) -> None:
        self.sender = sender
        self.from_ = settings.smtp_from
        self.public_url = (settings.public_url or "http://127.0.0.1:8000").rstrip("/")
        self.key = resolved_alert_token_key(settings)

    def reference(self, alert: Alert, contact: Contact) -> str:
        return message_id(alert, contact)

    def unreachable(self, contact: Contact) -> str | None:
        return None if contact.email else "aucune adresse électronique dans l'annuaire pour cette personne"

    def send(self, alert: Alert, contact: Contact) -> None:
        token = make_token(self.key, alert.id, contact.person_id)
        callout = alert.details.get("callout_id")
        answer = make_token(self.key, UUID(callout), contact.person_id, ANSWER) if callout else None
        self.sender.send(compose(alert, contact, sender=self.from_, public_url=self.public_url, ack_token=token,
                                 answer_token=answer))


def channels_from(settings: Settings, *, forget_push: Callable[[str, str], None] | None = None) -> dict[str, Channel]:
    """The channels this configuration has (only those: the others fail, saying they do not exist).
    `forget_push(person_id, endpoint)`: told of a push subscription its service says is gone."""
    from adapters.notify.gateway import GatewayChannel
    from adapters.notify.push import PushChannel

    out: dict[str, Channel] = {}
    if settings.smtp_url:
        out[EMAIL] = EmailChannel(SmtpSender(SmtpConfig.from_url(settings.smtp_url, settings.smtp_ca_file)), settings)
    if settings.vapid_subject:
        out[PUSH] = PushChannel(settings, forget=forget_push)
    if settings.sms_url:
        out[SMS] = GatewayChannel(SMS, settings.sms_url)
    if settings.voice_url:
        out[VOICE] = GatewayChannel(VOICE, settings.voice_url)
    return out


def backoff(attempt: int) -> timedelta:
    return min(FIRST_BACKOFF * (2 ** (attempt - 1)), MAX_BACKOFF)


def dispatch_lock_key(schema: str) -> int:
    digest = hashlib.sha256(f"tocsin-alert-dispatch:{schema}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _now() -> datetime:
    return datetime.now(UTC)


class Dispatcher:
    def __init__(self, store: TocsinStore, recipients: Recipients, channels: Mapping[str, Channel], *,
                 now: Callable[[], datetime] = _now, timers: Sequence[Timer] = ()) -> None:
        self.store = store
        self.timers = tuple(timers)
        self.recipients = recipients
        self.channels = dict(channels)
        self.now = now
        self.conn = psycopg.connect(store.database_url, autocommit=True)
        alert_store.ensure_tables(store)
        self.seen = 0  # the last alert event read
        self.open: dict[UUID, Alert] = {}  # alerts with deliveries still due
        self.started = False
        self.delays: list[float] = []  # seconds from recording the deciding event to the channel's acceptance
        # Sends run in parallel (each blocks on its server); their outcomes are recorded together.
        self.pool = ThreadPoolExecutor(max_workers=SEND_THREADS, thread_name_prefix="tocsin-send")

    def close(self) -> None:
        self.pool.shutdown(wait=True)
        self.conn.close()

    def __enter__(self) -> Dispatcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def step(self) -> int:
        """Read new alert events, then make every attempt due now; the number of attempts made.

        In three moves, each a single transaction whatever the number of alerts: record the attempts
        (and the failures known beforehand), send them all (in parallel), record their outcomes."""
        self._refresh()
        if not self.started:
            self.started = True
            for alert in list(self.open.values()):
                self._settle_in_doubt(alert)
        now = self.now()
        for alert_id in list(self.open):
            tier = self.open[alert_id].due_tier(now)
            if tier is not None:
                self._escalate(alert_id, tier, now)
        # What a timer records (an overdue request and its alerts) is read by the next step: say so.
        timed = sum(timer.step(now) for timer in self.timers)
        planned: list[tuple[UUID, str, str, int, Channel, Contact]] = []
        before: list[tuple[UUID, Callable[[Alert], None]]] = []
        for alert_id, alert in self.open.items():
            for d in alert.deliveries.values():
                if d["status"] != PENDING or (d.get("retry_at") and datetime.fromisoformat(d["retry_at"]) > now):
                    continue
                person_id, channel_name, attempt = d["person_id"], d["channel"], d["attempts"] + 1
                channel = self.channels.get(channel_name)
                contact = self.recipients.contact(person_id) or _recorded_contact(alert, person_id)
                if channel is None:
                    label = CHANNEL_LABELS.get(channel_name, channel_name)
                    why: str | None = f"canal {label} non configuré sur ce Tocsin : rien n'a été envoyé"
                else:
                    why = channel.unreachable(contact)
                if why or channel is None:
                    metrics.ALERTS_FAILED.labels(channel_name).inc()
                    before.append((alert_id, _failed(person_id, channel_name, attempt, why or "", None)))
                    continue
                reference = channel.reference(alert, contact)
                before.append((alert_id, _attempted(person_id, channel_name, attempt, reference)))
                planned.append((alert_id, person_id, channel_name, attempt, channel, contact))
        if before and not self._save_all(before, retries=0):
            return 0  # someone wrote meanwhile: nothing was recorded nor sent; the next step sees theirs
        outcomes = list(self.pool.map(self._send, planned)) if planned else []
        self._save_all([o for o in outcomes if o is not None], retries=5)
        self._say_who_was_not_reached(now)
        for alert_id in list(self.open):
            alert = self.open[alert_id]
            if alert.next_escalation_at() is None and all(
                    d["status"] not in (PENDING, ATTEMPTING) for d in alert.deliveries.values()):
                del self.open[alert_id]
        return len(planned) + timed

    def _refresh(self) -> None:
        """Read the alerts that changed since the last step (not those only this process changed)."""
        changed = alert_store.alert_ids_after(self.conn, self.store, self.seen)
        if not changed:
            return
        self.seen = changed[-1][0]
        latest: dict[UUID, int] = {}
        for _, oid, version in changed:
            latest[oid] = version
        for alert_id, version in latest.items():
            cached = self.open.get(alert_id)
            if cached is not None and cached.version >= version:
                continue
            alert = alert_store.get_alert(self.store, alert_id)
            if alert is not None:
                self.open[alert_id] = alert

    def _send(self, planned: tuple[UUID, str, str, int, Channel, Contact]) -> tuple[UUID, Callable[[Alert], None]]:
        alert_id, person_id, channel_name, attempt, channel, contact = planned
        alert = self.open[alert_id]
        try:
            channel.send(alert, contact)
        except DeliveryError as e:
            final = e.final or attempt >= MAX_ATTEMPTS
            retry_at = None if final else (self.now() + backoff(attempt)).isoformat()
            log.info("alert %s: %s delivery attempt %d failed (%s)", alert_id, channel_name, attempt,
                     "final" if final else "will retry")
            metrics.ALERTS_FAILED.labels(channel_name).inc()
            return alert_id, _failed(person_id, channel_name, attempt, e.reason, retry_at)
        accepted = self.now()
        recorded = datetime.fromisoformat(alert.trigger.get("recorded_at") or alert.raised_at.isoformat())
        delay = (accepted - recorded).total_seconds()
        self.delays.append(delay)  # list.append is atomic: the sending threads share it
        metrics.ALERTS_SENT.labels(channel_name).inc()
        metrics.ALERT_DELIVERY_SECONDS.labels(channel_name).observe(delay)
        return alert_id, _sent(person_id, channel_name, attempt, accepted, delay)

    def _save_all(self, changes: list[tuple[UUID, Callable[[Alert], None]]], retries: int) -> bool:
        """Apply the changes to their alerts and record them in one transaction. When someone wrote to one
        of them meanwhile, read them again and, `retries` times, apply the changes to what they now are."""
        for _ in range(retries + 1):
            touched: dict[UUID, Alert] = {}
            for alert_id, change in changes:
                alert = touched.get(alert_id) or self.open.get(alert_id) or alert_store.get_alert(self.store, alert_id)
                assert alert is not None
                change(alert)
                touched[alert_id] = alert
            try:
                self.store.save(*touched.values())
            except BaseException as e:
                # The cached alerts hold events that were not recorded: never let a later save carry them.
                for alert_id in touched:
                    fresh = alert_store.get_alert(self.store, alert_id)
                    if fresh is not None:
                        self.open[alert_id] = fresh
                if isinstance(e, IntegrityError):
                    continue
                raise
            self.open.update(touched)
            return True
        return False

    def _escalate(self, alert_id: UUID, tier: dict, now: datetime) -> None:
        """Alert the tier's organisation too; recorded once (a concurrent write makes the save read the
        alert again, where the tier is then done or an acknowledgement ends it)."""
        organisation = tier["organisation_id"]
        minutes = round(tier["after_seconds"] / 60)
        if tier.get("everyone"):
            people = [p.as_dict() for p in self.recipients.everyone(organisation, now)]
            reason = (f"aucun accusé de réception de l'astreinte en {minutes} min : alerte étendue à tout"
                      f" {organisation}")
        else:
            people = [p.as_dict() for p in self.recipients.people_to_reach(organisation, now)]
            reason = f"aucun accusé de réception en {minutes} min : alerte étendue à {organisation}"
        if not people:
            reason += " (personne à joindre dans l'annuaire)"

        def change(a: Alert) -> None:
            if a.due_tier(now) == tier:
                a.escalate(tier["tier"], organisation, people, reason, now)

        self._save(alert_id, change)

    def _say_who_was_not_reached(self, now: datetime) -> None:
        """Record, once, that an alert has reached nobody, when nothing is left to try for it now."""
        for alert_id, alert in list(self.open.items()):
            why = alert.reaches_nobody()
            if why is None:
                continue
            log.warning("alert %s reached nobody (%d people to reach)", alert_id, len(alert.recipients))
            metrics.ALERTS_UNREACHED.inc()

            def change(a: Alert, why: str = why) -> None:
                if a.reaches_nobody() is not None:
                    a.reached_nobody(why, now)

            self._save(alert_id, change)

    def next_due(self) -> datetime | None:
        """When the earliest retry or escalation is due (None: nothing waits)."""
        times = [datetime.fromisoformat(d["retry_at"]) for a in self.open.values() for d in a.deliveries.values()
                 if d["status"] == PENDING and d.get("retry_at")]
        times += [t for a in self.open.values() if (t := a.next_escalation_at()) is not None]
        times += [t for timer in self.timers if (t := timer.next_due()) is not None]
        return min(times, default=None)

    def _settle_in_doubt(self, alert: Alert) -> None:
        for d in list(alert.deliveries.values()):
            if d["status"] == ATTEMPTING:
                self._save(alert.id, _in_doubt(d["person_id"], d["channel"], d["attempts"]))

    def _save(self, alert_id: UUID, change: Callable[[Alert], None]) -> Alert:
        """Apply a change to the latest alert and record it; read again if someone wrote meanwhile."""
        for _ in range(5):
            alert = self.open.get(alert_id) or alert_store.get_alert(self.store, alert_id)
            assert alert is not None
            change(alert)
            try:
                self.store.save(alert)
            except BaseException as e:
                # The cached alert holds an event that was not recorded: never let a later save carry it.
                fresh = alert_store.get_alert(self.store, alert_id)
                assert fresh is not None
                self.open[alert_id] = fresh
                if isinstance(e, IntegrityError):  # someone wrote first (an acknowledgement): try on theirs
                    continue
                raise
            self.open[alert_id] = alert
            return alert
        raise RuntimeError(f"alert {alert_id}: could not record a delivery event after 5 tries")

    def run(self, stop: threading.Event, poll_seconds: float = 1.0) -> None:
        """Deliver until `stop` is set, while holding the dispatcher's lock; woken by new events."""
        run_while_leading(self.store.database_url, dispatch_lock_key(self.store.settings.schema), self.step, stop,
                          poll_seconds)


def _in_doubt(person_id: str, channel: str, attempt: int) -> Callable[[Alert], None]:
    return _failed(person_id, channel, attempt, IN_DOUBT, None)


def _failed(person_id: str, channel: str, attempt: int, reason: str, retry_at: str | None) -> Callable[[Alert], None]:
    return lambda a: a.failed(person_id, channel, attempt, reason, retry_at)


def _attempted(person_id: str, channel: str, attempt: int, reference: str) -> Callable[[Alert], None]:
    return lambda a: a.attempt(person_id, channel, attempt, reference)


def _sent(person_id: str, channel: str, attempt: int, at: datetime, delay: float) -> Callable[[Alert], None]:
    return lambda a: a.sent(person_id, channel, attempt, at, delay)


def _recorded_contact(alert: Alert, person_id: str) -> Contact:
    """The person as the alert recorded them, when the directory no longer knows them."""
    for r in alert.recipients:
        if r["person_id"] == person_id:
            return Contact(person_id, r.get("name") or person_id, r.get("organisation_id") or "",
                           r.get("grant_id"), r.get("email"))
    return Contact(person_id, person_id, alert.organisation_id)
