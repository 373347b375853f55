"""The crisis (événement): a frame a préfecture, a zone or national staff opens over a territory, to which
cases attach, and in which requests, the log book, situation reports and call-outs live.

Cases attach by rule as they are recorded (inside the crisis's territory, from its start, of the nature
families its kind implies) or by hand; detaching is an act too, so the history says who decided what.
A closed crisis accepts no new act: every use case that adds to a crisis asks `check_open` first.

Who may open, see and manage a crisis is in domain.access, with the other access rules.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from eventsourcing.domain import Aggregate, event

from domain.geography import NATIONAL, Level
from domain.local_time import zone_of
from domain.nature import NatureFamily


@dataclass(frozen=True)
class CrisisKind:
    code: str
    label: str  # French, shown as is
    # The CISU nature families of the cases that attach by rule; empty: every family.
    families: tuple[NatureFamily, ...]


_F = NatureFamily
KINDS: dict[str, CrisisKind] = {
    k.code: k
    for k in (
        CrisisKind("storm", "Tempête", (_F.NATURAL, _F.PROPERTY, _F.ROAD, _F.PERSONS)),
        CrisisKind("flood", "Inondation", (_F.NATURAL, _F.PROPERTY, _F.PERSONS, _F.MISSING)),
        CrisisKind("wildfire", "Feu de forêt", (_F.FIRE, _F.NATURAL, _F.PERSONS)),
        CrisisKind("industrial", "Accident industriel", (_F.TECHNOLOGICAL, _F.EXPLOSION, _F.FIRE, _F.PERSONS)),
        CrisisKind("health", "Crise sanitaire", (_F.PERSONS,)),
        CrisisKind("public_gathering", "Grand rassemblement", (_F.PUBLIC_ORDER, _F.PERSONS, _F.OFFENCE)),
        CrisisKind("other", "Autre", ()),
    )
}

TITLE_MAX = 200


class UnknownKind(ValueError):
    """A kind that is not one of KINDS (French message)."""


class CrisisClosed(ValueError):
    """An act on a closed crisis (French message)."""


def case_territories(placement: Mapping[str, Any] | None) -> tuple[str, ...]:
    """The typed territories a case placed there lies in, from its commune up to the nation: what a crisis's
    territory is compared with. A case not placed yet lies in France only (a national crisis takes it)."""
    placement = placement or {}
    out = [f"{level.value}:{placement[key]}" for level, key in (
        (Level.COMMUNE, "insee"), (Level.DEPARTEMENT, "departement"), (Level.ZONE, "zone")) if placement.get(key)]
    out.append(f"{Level.NATIONAL.value}:{NATIONAL}")
    return tuple(out)


def kind_named(code: str) -> CrisisKind:
    try:
        return KINDS[code]
    except KeyError:
        raise UnknownKind(f"type de crise inconnu : {code[:40]!r} (types possibles : {', '.join(KINDS)})") from None


def clean_title(title: str) -> str:
    title = " ".join(title.split())
    if not title or len(title) > TITLE_MAX:
        raise ValueError(f"le titre doit faire entre 1 et {TITLE_MAX} caractères")
    return title


class Crisis(Aggregate):
    """One crisis; `territory` is a typed territory string (`departement:44`, `zone:ouest`, `national:FR`)."""

    @event("Opened")
    def __init__(self, title: str, kind: str, territory: str, start: datetime, opened_by: dict,
                 organisation_id: str | None, exercise: bool) -> None:
        self.title = title
        self.kind = kind
        self.territory = territory
        self.start = start
        self.opened_by = opened_by  # domain.access.actor(): person, name, organisation, habilitation, role
        self.organisation_id = organisation_id  # the organisation that runs the crisis (the opener's)
        self.exercise = exercise
        self.cases: dict[str, dict] = {}  # case id -> how and when it was attached
        self.detached: dict[str, dict] = {}  # case id -> who detached it (never re-attached by rule)
        self.closed_at: datetime | None = None
        self.closed_by: dict | None = None
        self.closing_summary = ""

    @property
    def is_open(self) -> bool:
        return self.closed_at is None

    @property
    def families(self) -> tuple[NatureFamily, ...]:
        return KINDS[self.kind].families

    @property
    def time_zone(self) -> str:
        """The zone its times are shown in: its territory's (an overseas département's own)."""
        level, _, code = self.territory.partition(":")
        return zone_of(level, code).key

    def check_open(self) -> None:
        if not self.is_open:
            raise CrisisClosed(f"la crise « {self.title} » est close : elle n'accepte plus de nouvel acte")

    # ---- attaching cases -----------------------------------------------------------------------------

    def matches(self, case_territories: Iterable[str], family: str, at: datetime, exercise: bool = False) -> bool:
        """Would a case first recorded at `at`, placed in these typed territories, of this family, an
        exercise's or not, attach by rule? An exercise crisis takes the exercise's cases only, and a real
        crisis real cases only: neither may count the other's victims."""
        if not self.is_open or at < self.start or exercise != self.exercise:
            return False
        if self.families and family not in self.families:
            return False
        return self.territory in set(case_territories)

    @event("CaseAttached")
    def _attached(self, case_id: str, how: str, by: dict | None, at: datetime) -> None:
        self.cases[case_id] = {"case_id": case_id, "how": how, "by": by, "at": at.isoformat()}
        self.detached.pop(case_id, None)

    @event("CaseDetached")
    def _detached(self, case_id: str, by: dict, reason: str, at: datetime) -> None:
        self.cases.pop(case_id, None)
        self.detached[case_id] = {"case_id": case_id, "by": by, "reason": reason, "at": at.isoformat()}

    def attach_by_rule(self, case_id: str, at: datetime) -> bool:
        """Attach a case the rule matched; False (and no event) when it is already attached or was detached."""
        if not self.is_open or case_id in self.cases or case_id in self.detached:
            return False
        self._attached(case_id, "règle", None, at)
        return True

    def attach_by_hand(self, case_id: str, by: dict, at: datetime) -> bool:
        self.check_open()
        if case_id in self.cases:
            return False
        self._attached(case_id, "manuel", by, at)
        return True

    def detach(self, case_id: str, by: dict, reason: str, at: datetime) -> None:
        self.check_open()
        if case_id not in self.cases:
            raise LookupError("cette affaire n'est pas rattachée à la crise")
        self._detached(case_id, by, reason.strip()[:500], at)

    # ---- closing -------------------------------------------------------------------------------------

    @event("Closed")
    def _closed(self, by: dict, at: datetime, summary: str) -> None:
        self.closed_at = at
        self.closed_by = by
        self.closing_summary = summary

    def close(self, by: dict, at: datetime, summary: str = "") -> None:
        self.check_open()
        self._closed(by, at, summary.strip()[:2000])

    def summary(self) -> dict[str, Any]:
        """What the live stream says when the crisis changes (a dashboard then reads its view again)."""
        return {"id": str(self.id), "title": self.title, "kind_label": KINDS[self.kind].label,
                "territory": self.territory, "status": "ouverte" if self.is_open else "close",
                "exercise": self.exercise, "cases": len(self.cases), "version": self.version}

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "title": self.title,
            "kind": self.kind,
            "kind_label": KINDS[self.kind].label,
            "families": [str(f) for f in self.families],
            "territory": self.territory,
            "time_zone": self.time_zone,
            "start": self.start.isoformat(),
            "opened_at": self.created_on.isoformat(),
            "opened_by": self.opened_by,
            "organisation_id": self.organisation_id,
            "exercise": self.exercise,
            "status": "ouverte" if self.is_open else "close",
            "closed_at": self.closed_at.isoformat() if self.closed_at else None,
            "closed_by": self.closed_by,
            "closing_summary": self.closing_summary,
            "cases": sorted(self.cases.values(), key=lambda c: c["at"]),
            "detached": sorted(self.detached.values(), key=lambda c: c["at"]),
            "version": self.version,
        }
