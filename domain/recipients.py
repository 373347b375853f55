"""Whom an alert reaches: the port mobilisation asks the directory.

The directory (organisations, people, habilitations, on-duty schedules) answers one question for
alerting: given an organisation and a moment, which people to reach, and how. The person on duty comes
first; where the organisation keeps no on-duty schedule, everyone habilitated in it is reached. The
adapter over the real directory implements `Recipients`; the tests have their own, Postgres-free one.

Organisation ids are the directory's deterministic ones: the mairie of a commune `mairie.<insee>`, the
préfecture of a département `prefecture.<code>`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol


def mairie_of(insee: str) -> str:
    """The directory id of a commune's mairie."""
    return f"mairie.{insee}"


def prefecture_of(departement: str) -> str:
    """The directory id of a département's préfecture."""
    return f"prefecture.{departement}"


@dataclass(frozen=True)
class Contact:
    """One person to reach for an organisation, with the habilitation they would act under."""

    person_id: str
    name: str
    organisation_id: str
    grant_id: str | None = None  # the habilitation an acknowledgement is recorded under
    email: str | None = None
    phone: str | None = None
    push_subscriptions: tuple[dict, ...] = field(default=())  # Web Push subscriptions (endpoint + keys)
    on_duty: bool = False

    def as_dict(self) -> dict[str, Any]:
        """What an alert records of the person (no phone number or push keys: the channels look them up)."""
        return {
            "person_id": self.person_id, "name": self.name, "organisation_id": self.organisation_id,
            "grant_id": self.grant_id, "email": self.email, "on_duty": self.on_duty,
        }


class Recipients(Protocol):
    """The directory, as alerting asks it."""

    def people_to_reach(self, organisation_id: str, at: datetime) -> Sequence[Contact]:
        """Who to reach for the organisation at that moment: on duty first; without a schedule, everyone
        habilitated in it; empty when the organisation is unknown or has nobody (the alert says so)."""
        ...

    def everyone(self, organisation_id: str, at: datetime) -> Sequence[Contact]:
        """Everyone habilitated in the organisation at that moment, on duty or not (the first escalation of
        an alert that reached only the people on duty)."""
        ...

    def contact(self, person_id: str) -> Contact | None:
        """The person's current means of contact (their email may have changed since the alert)."""
        ...
