"""Call-outs (appels à mobilisation): a question put to a group, answered by each person, tallied live.

A prefect (or a mayor, for their commune's crisis cell) asks a group — the people of some organisations —
a question with answer choices (« disponible », « indisponible », « en route ») and a deadline. Each
answer is an event (who, which choice, through which channel, when); a person may change their answer
until the deadline, and the tally counts each person's latest answer. Answers after the deadline are
refused, not silently dropped.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from eventsourcing.domain import Aggregate, event

DISPONIBLE = "disponible"
INDISPONIBLE = "indisponible"
EN_ROUTE = "en route"
DEFAULT_CHOICES = (DISPONIBLE, INDISPONIBLE, EN_ROUTE)


class CallOutClosed(ValueError):
    """An answer after the deadline (French message)."""


class NotAsked(PermissionError):
    """An answer from someone the call-out was not put to, or a choice it did not offer (French message)."""


def tally(choices: Iterable[str], answers: Mapping[str, Mapping[str, Any]], group_size: int) -> dict[str, Any]:
    """Counts per choice of each person's latest answer, and how many have not answered."""
    counts = {c: 0 for c in choices}
    for answer in answers.values():
        if answer["choice"] in counts:
            counts[answer["choice"]] += 1
    answered = sum(counts.values())
    return {"counts": counts, "answered": answered, "waiting": max(group_size - answered, 0), "asked": group_size}


class CallOut(Aggregate):
    @event("Launched")
    def __init__(self, question: str, choices: list[str], deadline: datetime, organisation_ids: list[str],
                 group: list[dict], launched_by: dict, exercise: bool) -> None:
        self.question = question
        self.choices = choices
        self.deadline = deadline
        self.organisation_ids = organisation_ids
        self.group = group  # domain.recipients.Contact.as_dict() of each person asked
        self.launched_by = launched_by  # person, name, organisation and habilitation of who asked
        self.exercise = exercise
        self.answers: dict[str, dict] = {}  # person id -> their latest answer

    @event("Answered")
    def _answered(self, person_id: str, name: str, choice: str, channel: str, grant_id: str | None,
                  at: datetime) -> None:
        self.answers[person_id] = {"person_id": person_id, "name": name, "choice": choice, "channel": channel,
                                   "grant_id": grant_id, "at": at.isoformat()}

    def answer(self, person_id: str, name: str, choice: str, channel: str, grant_id: str | None, at: datetime) -> None:
        """Record an answer, if the person was asked, the choice offered and the deadline not passed."""
        if at > self.deadline:
            raise CallOutClosed("la date limite de réponse à cet appel est passée")
        if not any(p["person_id"] == person_id for p in self.group):
            raise NotAsked("cet appel ne vous a pas été adressé")
        if choice not in self.choices:
            raise NotAsked(f"réponse inconnue : {choice} (réponses possibles : {', '.join(self.choices)})")
        self._answered(person_id, name, choice, channel, grant_id, at)

    def summary(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "question": self.question,
            "choices": list(self.choices),
            "deadline": self.deadline.isoformat(),
            "launched_at": self.created_on.isoformat(),
            "launched_by": self.launched_by,
            "organisation_ids": list(self.organisation_ids),
            "exercise": self.exercise,
            "asked": [{"person_id": p["person_id"], "name": p["name"], "organisation_id": p["organisation_id"]}
                      for p in self.group],
            "answers": sorted(self.answers.values(), key=lambda a: a["at"]),
            "tally": tally(self.choices, self.answers, len(self.group)),
        }
