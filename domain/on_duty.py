"""On-duty schedules (astreintes): who is on duty for an organisation at a given moment.

A schedule is a set of periods, each naming one person of the organisation, a start and an end. A period
holds from its start (included) to its end (excluded), so that two periods handed over at 08:00 never
both hold at 08:00 and never leave 08:00 uncovered. Periods may overlap (two people on duty together:
the mayor and a deputy on a storm night); everyone whose period holds is on duty.

Moments are absolute (aware datetimes, compared in UTC): a period typed as « 28/03 20:00 – 29/03 08:00,
heure de Paris » lasts 11 hours across the spring change, and the rule never reads wall clocks. The
territory's zone is for display and for reading what people type (domain.local_time).

Pure: the events are domain.directory_events.OnDutySchedule's, the table and lookups adapters.directory's.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from domain.directory import DirectoryError

# A period longer than this is almost certainly a typing mistake (a year instead of a month): refused.
LONGEST_PERIOD = timedelta(days=62)


@dataclass(frozen=True)
class DutyPeriod:
    id: str
    organisation_id: str
    person_id: str
    start: datetime  # aware
    end: datetime  # aware, after start

    def holds(self, at: datetime) -> bool:
        """Whether the period covers this moment: its start included, its end excluded."""
        return self.start <= at < self.end


def on_duty_at(periods: Iterable[DutyPeriod], at: datetime) -> list[str]:
    """The people on duty at `at` (ids, each once, in the order of the periods' starts): empty when no
    period holds, and the organisation's alerts then go to everyone habilitated in it."""
    if at.tzinfo is None:
        raise ValueError("on_duty_at needs an aware moment")
    people: dict[str, None] = {}
    for p in sorted(periods, key=lambda p: (p.start, p.end, p.person_id)):
        if p.holds(at):
            people.setdefault(p.person_id)
    return list(people)


def check_period(start: datetime, end: datetime) -> None:
    """A period people may set (DirectoryError in French otherwise)."""
    if start.tzinfo is None or end.tzinfo is None:
        raise DirectoryError("période d'astreinte sans fuseau horaire")
    if end <= start:
        raise DirectoryError("la fin de la période d'astreinte doit suivre son début")
    if end - start > LONGEST_PERIOD:
        raise DirectoryError(f"période d'astreinte trop longue ({LONGEST_PERIOD.days} jours au plus)")
