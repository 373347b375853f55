"""The directory as alerting asks it (`domain.recipients.Recipients`): whom to reach for an organisation.

Everyone habilitated in the organisation with an operational role is reached (mayors, préfecture,
SDIS, zone and national staff); analysts, auditors and administrators are not alerted for the
organisation they read. The directory keeps no on-duty schedule yet, so nobody is marked on duty and
everyone habilitated is reached, as the issue asks where no schedule exists; nor does it hold Web Push
subscriptions yet (the push channel then fails, said, for that person).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from adapters.directory.lookups import DirectoryReader, Member
from domain.directory import ADMIN_ROLE, CONTACT_ROLES
from domain.recipients import Contact

ALERTED_ROLES = CONTACT_ROLES - {ADMIN_ROLE}


def _contact(member: Member) -> Contact:
    return Contact(person_id=member.person_id, name=member.name, organisation_id=member.organisation_id,
                   grant_id=member.grant_id, email=member.email or None,
                   phone=member.phones[0] if member.phones else None)


class DirectoryRecipients:
    def __init__(self, directory: DirectoryReader) -> None:
        self.directory = directory

    def people_to_reach(self, organisation_id: str, at: datetime) -> Sequence[Contact]:
        return [_contact(m) for m in self.directory.members([organisation_id])
                if m.role in ALERTED_ROLES and (m.until is None or m.until > at)]

    def contact(self, person_id: str) -> Contact | None:
        held = [m for m in self.directory.members(person_id=person_id) if m.role in ALERTED_ROLES]
        return _contact(held[0]) if held else None
