"""The directory's history: organisations, people, habilitations and invitations as events in the event
store, beside the NexSIS cases (same store, same codec, same audit chain), so that who could act for which
organisation at any moment is replayable and verifiable like the rest.

Small aggregates, each with a deterministic id (`directory_uuid`), so that importing the same file twice,
or seeding a store twice, names the same aggregates and records nothing new:

- `DirectorySeed`: the organisations created from the reference geography, all in one event (35,000
  mairies are one act of the platform, not 35,000);
- `Organisation`: one registered by hand or by import, or a seeded one whose details were updated;
- `Person`: name, email, telephones (personal data: the events are encrypted like every event);
- `Habilitation`: a person's role in an organisation, granted by whom, until when, and its revocation;
- `Invitation`: an email link to become habilitated, single use and expiring; only the SHA-256 of its
  token is recorded.

Pure: the adapter (adapters.directory) writes them with the read tables in one transaction.
"""

from __future__ import annotations

from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate

from domain.case import event_fields

_NAMESPACE = uuid5(NAMESPACE_URL, "https://tocsin.example/directory")


def directory_uuid(kind: str, key: str) -> UUID:
    """The aggregate id of a directory entry: `directory_uuid("organisation", "mairie.35238")`."""
    return uuid5(_NAMESPACE, f"{kind}:{key}")


SEED_ID = directory_uuid("seed", "france")


def _start(cls: type[Aggregate], event: Aggregate.Event) -> Any:
    aggregate = cls.__new__(cls)
    aggregate.__base_init__(originator_id=event.originator_id, originator_version=0, timestamp=event.timestamp)
    cls.__init__(aggregate)
    return aggregate


class DirectorySeed(Aggregate):
    """The organisations seeded from the reference geography. A later reference (new communes) appends an
    event with the organisations not seeded yet."""

    def __init__(self) -> None:
        self.organisation_ids: set[str] = set()

    @event_fields
    class Seeded(Aggregate.Event):
        reference: str  # which reference data (its files' SHA-256)
        # [id, kind, name, level, code, siret, nexsis_id] per organisation: compact, 35,000 of them
        organisations: list

        def mutate(self, aggregate: Any) -> Any:
            return super().mutate(aggregate if aggregate is not None else _start(DirectorySeed, self))

        def apply(self, aggregate: DirectorySeed) -> None:
            aggregate.organisation_ids.update(o[0] for o in self.organisations)


class Organisation(Aggregate):
    """An organisation registered or updated by a person (its id: `directory_uuid("organisation", id)`)."""

    def __init__(self) -> None:
        self.details: dict = {}

    @event_fields
    class Registered(Aggregate.Event):
        organisation_id: str
        kind: str
        name: str
        level: str
        code: str
        siret: str | None
        nexsis_id: str | None
        by: dict  # who acted: subject, role, organisation_id, grant_id

        def mutate(self, aggregate: Any) -> Any:
            return super().mutate(aggregate if aggregate is not None else _start(Organisation, self))

        def apply(self, aggregate: Organisation) -> None:
            aggregate.details = {k: getattr(self, k) for k in
                                 ("organisation_id", "kind", "name", "level", "code", "siret", "nexsis_id")}

    @event_fields
    class Updated(Aggregate.Event):
        """New details of an organisation (a seeded one's first event of its own)."""

        organisation_id: str
        name: str
        siret: str | None
        nexsis_id: str | None
        by: dict

        def mutate(self, aggregate: Any) -> Any:
            return super().mutate(aggregate if aggregate is not None else _start(Organisation, self))

        def apply(self, aggregate: Organisation) -> None:
            aggregate.details.update(organisation_id=self.organisation_id, name=self.name, siret=self.siret,
                                     nexsis_id=self.nexsis_id)


class Person(Aggregate):
    """A person (its id: `directory_uuid("person", email at registration)`; people are matched by email)."""

    def __init__(self) -> None:
        self.details: dict = {}

    @event_fields
    class Registered(Aggregate.Event):
        person_id: str
        name: str
        email: str
        phones: list
        by: dict

        def mutate(self, aggregate: Any) -> Any:
            return super().mutate(aggregate if aggregate is not None else _start(Person, self))

        def apply(self, aggregate: Person) -> None:
            aggregate.details = {"person_id": self.person_id, "name": self.name, "email": self.email,
                                 "phones": list(self.phones)}

    @event_fields
    class Updated(Aggregate.Event):
        name: str
        email: str
        phones: list
        by: dict

        def apply(self, aggregate: Person) -> None:
            aggregate.details.update(name=self.name, email=self.email, phones=list(self.phones))


class Habilitation(Aggregate):
    """A person's role in an organisation (its id: `directory_uuid("habilitation", person/organisation/role)`):
    granted, revoked, granted again."""

    def __init__(self) -> None:
        self.active = False

    @event_fields
    class Granted(Aggregate.Event):
        person_id: str
        organisation_id: str
        role: str
        position: str | None
        until: str | None  # ISO 8601 with its offset; None: no end date
        by: dict  # who granted it: subject, role, organisation_id, grant_id (None for the CLI operator)

        def mutate(self, aggregate: Any) -> Any:
            return super().mutate(aggregate if aggregate is not None else _start(Habilitation, self))

        def apply(self, aggregate: Habilitation) -> None:
            aggregate.active = True

    @event_fields
    class Revoked(Aggregate.Event):
        by: dict

        def apply(self, aggregate: Habilitation) -> None:
            aggregate.active = False


class Invitation(Aggregate):
    """An invitation by email link (its id: `directory_uuid("invitation", token SHA-256 hex)`)."""

    def __init__(self) -> None:
        self.accepted = False

    @event_fields
    class Issued(Aggregate.Event):
        token_sha256: str  # hex: the token itself is only in the link sent
        email: str
        organisation_id: str
        role: str
        position: str | None
        expires_at: str  # ISO 8601
        by: dict

        def mutate(self, aggregate: Any) -> Any:
            return super().mutate(aggregate if aggregate is not None else _start(Invitation, self))

    @event_fields
    class Accepted(Aggregate.Event):
        grant_id: str

        def apply(self, aggregate: Invitation) -> None:
            aggregate.accepted = True


class OnDutySchedule(Aggregate):
    """An organisation's on-duty schedule (its id: `directory_uuid("duty", organisation id)`): periods set
    and removed by its people or its parent authority (domain.on_duty for what a period means)."""

    def __init__(self) -> None:
        self.periods: dict[str, dict] = {}

    @event_fields
    class PeriodSet(Aggregate.Event):
        organisation_id: str
        period_id: str
        person_id: str
        start: str  # ISO 8601 with its offset (UTC)
        end: str
        by: dict

        def mutate(self, aggregate: Any) -> Any:
            return super().mutate(aggregate if aggregate is not None else _start(OnDutySchedule, self))

        def apply(self, aggregate: OnDutySchedule) -> None:
            aggregate.periods[self.period_id] = {"person_id": self.person_id, "start": self.start, "end": self.end}

    @event_fields
    class PeriodRemoved(Aggregate.Event):
        period_id: str
        by: dict

        def apply(self, aggregate: OnDutySchedule) -> None:
            aggregate.periods.pop(self.period_id, None)


class PushSubscription(Aggregate):
    """A browser's Web Push subscription of a person (its id: `directory_uuid("push", person id|endpoint
    SHA-256)`): where alerts are pushed to them, until they unsubscribe or the push service says it is gone.
    The subscription (endpoint and keys) is in the event, encrypted like every event."""

    def __init__(self) -> None:
        self.active = False

    @event_fields
    class Subscribed(Aggregate.Event):
        person_id: str
        endpoint_sha256: str
        subscription: dict  # {"endpoint", "keys": {"p256dh", "auth"}}, as the browser gives it

        def mutate(self, aggregate: Any) -> Any:
            return super().mutate(aggregate if aggregate is not None else _start(PushSubscription, self))

        def apply(self, aggregate: PushSubscription) -> None:
            aggregate.active = True

    @event_fields
    class Unsubscribed(Aggregate.Event):
        reason: str

        def apply(self, aggregate: PushSubscription) -> None:
            aggregate.active = False
