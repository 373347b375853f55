"""Mobilisation wired to the rest: whom to ask for recipients, and the policy and delivery threads that
`tocsin serve` (by default) or `tocsin alerts run` keep running, with the crisis attacher beside them
(adapters.crisis.attacher: cases attach to crises by rule as they arrive), so that one switch
(TOCSIN_DISPATCH_IN_APP) says where the processes that follow the store for the platform's acts run.

Whom to reach comes from the directory (issue #18): `recipients_for` returns the
`domain.recipients.Recipients` this Tocsin uses, `adapters.directory.recipients.DirectoryRecipients`.
"""

from __future__ import annotations

import logging
import threading

from adapters.crisis.attacher import CrisisAttacher
from adapters.crisis.requests import OverdueWatch
from adapters.directory import push_subscriptions
from adapters.directory.recipients import DirectoryRecipients
from adapters.notify.dispatch import Channel, Dispatcher, channels_from
from adapters.notify.policy import AlertPolicy
from adapters.services import Services
from domain.recipients import Recipients

log = logging.getLogger(__name__)


def recipients_for(services: Services) -> Recipients:
    """The directory as alerting asks it (see the module's docstring)."""
    return DirectoryRecipients(services.directory)


def channels_for(services: Services) -> dict[str, Channel]:
    """The delivery channels of this configuration, the push channel forgetting in the directory the
    subscriptions their push service says are gone."""

    def forget(person_id: str, endpoint: str) -> None:
        push_subscriptions.unsubscribe(services, None, endpoint=endpoint, person_id=person_id,
                                       reason="abonnement expiré selon le service de notification push")

    return channels_from(services.settings, forget_push=forget)


def run_in_threads(services: Services, recipients: Recipients | None = None,
                   poll_seconds: float = 1.0) -> tuple[list[threading.Thread], threading.Event]:
    """The alert policy, the dispatcher and the crisis attacher, each in a daemon thread, restarted after an
    error; set the event to stop them."""
    stop = threading.Event()
    who = recipients or recipients_for(services)
    if not services.settings.smtp_url:
        log.warning("no TOCSIN_SMTP_URL: alerts are decided and recorded, email deliveries fail as unconfigured")

    def policy() -> None:
        while not stop.is_set():
            try:
                with AlertPolicy(services.store, services.geography, who) as p:
                    p.run(stop, poll_seconds)
            except Exception:
                log.exception("alert policy failed, restarting in 1 s")
                stop.wait(1.0)

    def dispatch() -> None:
        while not stop.is_set():
            try:
                with Dispatcher(services.store, who, channels_for(services),
                                timers=[OverdueWatch(services.store, who)]) as d:
                    d.run(stop, poll_seconds)
            except Exception:
                log.exception("alert dispatcher failed, restarting in 1 s")
                stop.wait(1.0)

    def attach() -> None:
        while not stop.is_set():
            try:
                with CrisisAttacher(services.store) as a:
                    a.run(stop, poll_seconds)
            except Exception:
                log.exception("crisis attacher failed, restarting in 1 s")
                stop.wait(1.0)

    threads = [threading.Thread(target=policy, name="tocsin-alert-policy", daemon=True),
               threading.Thread(target=dispatch, name="tocsin-alert-dispatch", daemon=True),
               threading.Thread(target=attach, name="tocsin-crisis-attacher", daemon=True)]
    for t in threads:
        t.start()
    return threads, stop
