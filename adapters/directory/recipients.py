"""The directory as alerting asks it (`domain.recipients.Recipients`): whom to reach for an organisation.

People habilitated in the organisation with an operational role are the ones alerted (mayors, préfecture,
SDIS, zone and national staff); analysts, auditors and administrators are not alerted for the
organisation they read. When the organisation's on-duty schedule (adapters.directory.on_duty) has a
period holding at the moment, the people on duty are reached first, marked so; the others of the
organisation come with the alert's first escalation (`everyone`). Where no period holds (no schedule,
a gap in it, or nobody on duty still habilitated), everyone habilitated is reached at once, as the issue
asks. Each person's Web Push subscriptions come with their contact.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from adapters.directory.lookups import DirectoryReader, Member
from domain.directory import ADMIN_ROLE, CONTACT_ROLES
from domain.on_duty import on_duty_at
from domain.recipients import Contact

ALERTED_ROLES = CONTACT_ROLES - {ADMIN_ROLE}


class DirectoryRecipients:
    def __init__(self, directory: DirectoryReader) -> None:
        self.directory = directory

    def _contact(self, member: Member) -> Contact:
        return Contact(person_id=member.person_id, name=member.name, organisation_id=member.organisation_id,
                       grant_id=member.grant_id, email=member.email or None,
                       phone=member.phones[0] if member.phones else None,
                       push_subscriptions=tuple(self.directory.push_subscriptions(member.person_id)))

    def _habilitated(self, organisation_id: str, at: datetime) -> list[Member]:
        return [m for m in self.directory.members([organisation_id])
                if m.role in ALERTED_ROLES and (m.until is None or m.until > at)]

    def people_to_reach(self, organisation_id: str, at: datetime) -> Sequence[Contact]:
        members = self._habilitated(organisation_id, at)
        duties = self.directory.duties(organisation_id, ending_after=at, starting_before=at)
        on_duty = on_duty_at(duties, at)
        first = [m for pid in on_duty for m in members if m.person_id == pid]
        if first:
            return [replace(self._contact(m), on_duty=True) for m in first]
        return [self._contact(m) for m in members]

    def everyone(self, organisation_id: str, at: datetime) -> Sequence[Contact]:
        return [self._contact(m) for m in self._habilitated(organisation_id, at)]

    def contact(self, person_id: str) -> Contact | None:
        held = [m for m in self.directory.members(person_id=person_id) if m.role in ALERTED_ROLES]
        return self._contact(held[0]) if held else None
