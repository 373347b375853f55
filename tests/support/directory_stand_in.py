"""A stand-in for the directory (`domain.directory.Habilitations`), for the login tests only, until the real
directory (`services.directory`, adapters.directory) is on this branch: habilitations held in memory,
granted and revoked by the test. The app takes it from `app.state.habilitations` when the services have
no `directory` (api/app.py, open_login). At the merge, the tests can give the real directory the same
people and grants instead, and this file goes.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from domain.directory import Grant, OrganisationKind, normalise_email
from domain.geography import Level


@dataclass
class StandInDirectory:
    grants: dict[str, Grant] = field(default_factory=dict)
    revoked: set[str] = field(default_factory=set)

    def grant(self, grant_id: str, email: str, role: str, level: Level, code: str, *,
              kind: OrganisationKind = OrganisationKind.MAIRIE, organisation: str = "Mairie",
              person: str = "Personne", until: float | None = None) -> Grant:
        made = Grant(id=grant_id, person_id="person:" + normalise_email(email), person_name=person,
                     email=normalise_email(email), organisation_id=f"org:{kind.value}:{code}",
                     organisation_name=organisation, organisation_kind=kind, role=role, level=level, code=code,
                     until=until)
        self.grants[grant_id] = made
        return made

    def revoke(self, grant_id: str) -> None:
        self.revoked.add(grant_id)

    def _in_force(self, grant: Grant) -> bool:
        return grant.id not in self.revoked and (grant.until is None or grant.until > time.time())

    def active_for_email(self, email: str) -> Sequence[Grant]:
        key = normalise_email(email)
        return [g for g in self.grants.values() if g.email == key and self._in_force(g)]

    def active(self, grant_id: str) -> Grant | None:
        grant = self.grants.get(grant_id)
        return grant if grant is not None and self._in_force(grant) else None
