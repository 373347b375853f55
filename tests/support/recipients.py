"""A Postgres-free test implementation of `domain.recipients.Recipients`, for the tests that choose their
people's ids by hand (`p.maire`) and need no directory: the alert policy's, the email delivery's, the
call-outs' and the dashboard's alert tests. The real directory (adapters.directory.recipients) holds
on-duty schedules and Web Push subscriptions: the escalation and push tests use it
(tests/integration/test_alert_escalation.py, test_alert_push_and_gateway.py), as new tests should.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from domain.recipients import Contact


@dataclass
class Duty:
    person_id: str
    start: datetime
    end: datetime


@dataclass
class DirectoryRecipients:
    people: dict[str, list[Contact]] = field(default_factory=dict)  # organisation id -> habilitated people
    duties: dict[str, list[Duty]] = field(default_factory=dict)  # organisation id -> on-duty periods

    def add(self, organisation_id: str, person_id: str, name: str, email: str | None = None, **kw: object) -> Contact:
        contact = Contact(person_id=person_id, name=name, organisation_id=organisation_id,
                          grant_id=f"hab.{person_id}.{organisation_id}", email=email, **kw)  # type: ignore[arg-type]
        self.people.setdefault(organisation_id, []).append(contact)
        return contact

    def people_to_reach(self, organisation_id: str, at: datetime) -> Sequence[Contact]:
        everyone = self.people.get(organisation_id, [])
        on_duty = {d.person_id for d in self.duties.get(organisation_id, []) if d.start <= at < d.end}
        if not on_duty:
            return list(everyone)  # no schedule (or nobody on duty now): everyone habilitated
        return [replace(c, on_duty=True) for c in everyone if c.person_id in on_duty]

    def everyone(self, organisation_id: str, at: datetime) -> Sequence[Contact]:
        return list(self.people.get(organisation_id, []))

    def contact(self, person_id: str) -> Contact | None:
        for contacts in self.people.values():
            for c in contacts:
                if c.person_id == person_id:
                    return c
        return None
