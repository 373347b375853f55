"""Web Push subscriptions in the directory: a person registers the browser they want alerts pushed to
(the dashboard's service worker gives the subscription), and removes it; the push channel reads them
through `DirectoryRecipients`. One implementation for the API and the dashboard.

A subscription belongs to the person acting (a directory person: a habilitation names them), never to
someone else: nobody can make alerts go to another person's browser, nor another person's alerts to
theirs. Each change is a `PushSubscription` event, with the subscriptions table's row in the same
transaction; the subscription (endpoint and keys) is sealed in the table, encrypted in the event.
"""

from __future__ import annotations

import hashlib
from uuid import UUID

import orjson
from psycopg.sql import SQL

from adapters.directory import tables
from adapters.directory.use_cases import Plan, Services, actor_of
from adapters.store.event_store import TocsinStore
from domain.access import Principal
from domain.directory import MAX_PUSH_SUBSCRIPTIONS, DirectoryError, check_push_subscription
from domain.directory_events import PushSubscription, directory_uuid


def endpoint_digest(endpoint: str) -> str:
    return hashlib.sha256(endpoint.strip().encode()).hexdigest()


def _aggregate(person_id: str, endpoint: str) -> UUID:
    return directory_uuid("push", f"{person_id}|{endpoint_digest(endpoint)}")


def _person_of(services: Services, principal: Principal | None, person_id: str | None) -> str:
    """The directory person who subscribes: the principal's own (its subject, under a habilitation), or,
    for the operator, the one named."""
    services.ensure_directory()
    wanted = person_id if principal is None else principal.subject
    if not wanted or not services.directory.members(person_id=wanted):
        raise DirectoryError("notifications push réservées aux personnes habilitées de l'annuaire"
                             " (connectez-vous sous votre habilitation)")
    return wanted


def subscribed(store: TocsinStore, person_id: str) -> list[str]:
    """The ids of the person's subscriptions in force."""
    with store.connect() as conn:
        rows = conn.execute(SQL("SELECT id FROM {} WHERE person_id = %s").format(
            store.table(tables.PUSH_SUBSCRIPTIONS)), (person_id,)).fetchall()
    return [r["id"] for r in rows]


def subscribe(services: Services, principal: Principal | None, *, endpoint: str, keys: dict[str, str],
              person_id: str | None = None) -> int:
    """Record the browser's subscription for the person (again: nothing new); their subscriptions in force."""
    person = _person_of(services, principal, person_id)
    subscription = check_push_subscription(endpoint, keys)
    aggregate = _aggregate(person, subscription["endpoint"])
    held = subscribed(services.store, person)
    current = next(iter(services.directory.push_subscriptions(person, only=str(aggregate))), None)
    if current == subscription:
        return len(held)
    if str(aggregate) not in held and len(held) >= MAX_PUSH_SUBSCRIPTIONS:
        raise DirectoryError(f"abonnement push refusé : {MAX_PUSH_SUBSCRIPTIONS} navigateurs abonnés au plus ;"
                             " désabonnez-en un")
    plan = Plan(services, actor_of(principal))
    plan.events.append(PushSubscription.Subscribed(
        originator_id=aggregate, originator_version=plan.next_version(aggregate),
        timestamp=PushSubscription.Subscribed.create_timestamp(), person_id=person,
        endpoint_sha256=endpoint_digest(subscription["endpoint"]), subscription=subscription))
    table = services.store.table(tables.PUSH_SUBSCRIPTIONS)
    sealed = services.store.seal(orjson.dumps(subscription))
    plan.writes.append(lambda curs: curs.execute(
        SQL("INSERT INTO {} (id, person_id, subscription, subscribed_at) VALUES (%s, %s, %s, now())"
            " ON CONFLICT (id) DO UPDATE SET subscription = EXCLUDED.subscription, subscribed_at = now()"
            ).format(table),
        (str(aggregate), person, sealed)))
    plan.commit()
    return len(set(held) | {str(aggregate)})


def unsubscribe(services: Services, principal: Principal | None, *, endpoint: str, person_id: str | None = None,
                reason: str = "désabonnement") -> int:
    """Remove the browser's subscription of the person (not subscribed: nothing recorded); their
    subscriptions still in force."""
    # The operator (or the dispatcher, told by the push service that a subscription is gone) names the
    # person, who may no longer be habilitated anywhere: their subscription is forgotten all the same.
    person = person_id if principal is None and person_id else _person_of(services, principal, person_id)
    aggregate = _aggregate(person, endpoint)
    held = subscribed(services.store, person)
    if str(aggregate) not in held:
        return len(held)
    plan = Plan(services, actor_of(principal))
    plan.events.append(PushSubscription.Unsubscribed(
        originator_id=aggregate, originator_version=plan.next_version(aggregate),
        timestamp=PushSubscription.Unsubscribed.create_timestamp(), reason=reason))
    table = services.store.table(tables.PUSH_SUBSCRIPTIONS)
    plan.writes.append(lambda curs: curs.execute(SQL("DELETE FROM {} WHERE id = %s").format(table), (str(aggregate),)))
    plan.commit()
    return len(held) - 1
