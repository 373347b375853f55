"""The log book (main courante) of a crisis and its situation reports (points de situation).

People write entries — an information, a decision, an action — each with its author, the habilitation it
was written under, its time, its visibility (`organisation`: the author's organisation only; `crisis`:
everyone taking part in the crisis) and the cases it concerns. A correction is a new entry that amends an
earlier one: nothing is ever edited, the original stays readable beside its corrections.

Beside what people write, the log book shows what happened without them: the NexSIS messages of the
crisis's cases, the alerts, the requests. Those are not stored twice: they are read from their own
aggregates and merged by time when the log book is read (projections.read.crisis_log); `LogItem` is the
one shape of both kinds.

One `LogBook` aggregate per crisis (its id derived from the crisis's, so it needs no index to be found),
and one `SituationReports` aggregate per crisis. Many people write in the same crisis at once: two
entries written at the same version collide in the store, and the use case applies the losing one again
on the newer version (adapters.crisis.logbook). One aggregate per crisis keeps the numbering of entries
and reports gap-free and the read a single stream; an aggregate per entry would avoid the collisions but
could only be found by decrypting every entry of every crisis.

Who may read which entry is domain.access's `may_read_log_entry`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

KINDS: dict[str, str] = {"information": "Information", "decision": "Décision", "action": "Action"}
VISIBILITIES: dict[str, str] = {"organisation": "Mon organisation", "crisis": "Toute la crise"}
# Where an item of the log book comes from: written by a person, or shown from another part of the history.
SOURCES: dict[str, str] = {"personne": "Main courante", "nexsis": "NexSIS", "alerte": "Alerte",
                           "demande": "Demande"}
# The kinds of the items that are not written by people (their `kind_label` says what they are).
AUTOMATIC_KINDS: dict[str, str] = {"message": "Message NexSIS", "alert": "Alerte", "request": "Demande"}

TEXT_MAX = 5000
CASES_MAX = 50

_NAMESPACE = UUID("6f1c0d1e-8a5b-4c71-9a3e-2f0b8c4d7e10")


class EntryRefused(ValueError):
    """An entry the rules refuse: unknown kind or visibility, empty text, unknown amended entry (French)."""


def log_book_id(scope: str) -> UUID:
    """The id of the log book of a scope (`crisis:<uuid>`; an organisation's own would be
    `organisation:<id>`): derived, so that finding it needs no index and its first writers agree on it."""
    return uuid5(_NAMESPACE, f"logbook:{scope}")


def reports_id(crisis_id: UUID | str) -> UUID:
    return uuid5(_NAMESPACE, f"reports:crisis:{crisis_id}")


def crisis_scope(crisis_id: UUID | str) -> str:
    return f"crisis:{crisis_id}"


@dataclass(frozen=True)
class LogItem:
    """One line of the log book as read: an entry written by a person, or an item from another source."""

    at: datetime
    kind: str
    text: str
    source: str  # one of SOURCES
    visibility: str  # one of VISIBILITIES
    organisation_id: str | None = None
    author: Mapping[str, Any] | None = None
    case_ids: tuple[str, ...] = ()
    amends: str | None = None  # the id of the entry it corrects
    id: str = ""  # an entry's number in its log book; the source's own id for the others
    amended_by: tuple[str, ...] = ()
    recorded_at: datetime | None = None  # when Tocsin learnt it (`at` is when it happened)
    details: Mapping[str, Any] = field(default_factory=dict)

    @property
    def kind_label(self) -> str:
        return KINDS.get(self.kind) or AUTOMATIC_KINDS.get(self.kind) or self.kind

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": self.at.isoformat(),
            "recorded_at": (self.recorded_at or self.at).isoformat(),
            "kind": self.kind,
            "kind_label": self.kind_label,
            "author": dict(self.author) if self.author else None,
            "organisation_id": self.organisation_id,
            "text": self.text,
            "visibility": self.visibility,
            "visibility_label": VISIBILITIES[self.visibility],
            "case_ids": list(self.case_ids),
            "amends": self.amends,
            "amended_by": list(self.amended_by),
            "source": self.source,
            "source_label": SOURCES[self.source],
            "details": dict(self.details),
        }


def merged(*sources: Iterable[LogItem]) -> list[LogItem]:
    """All the items in the order they happened (a person's entries before automatic ones at the same
    time; the order is total, so two reads give the same list)."""
    items = [item for source in sources for item in source]
    return sorted(items, key=lambda i: (i.at, i.source != "personne", i.source, i.id))


def clean_text(text: str) -> str:
    text = text.strip()
    if not text:
        raise EntryRefused("le texte de l'entrée est vide")
    if len(text) > TEXT_MAX:
        raise EntryRefused(f"le texte dépasse {TEXT_MAX} caractères")
    return text


def clean_case_ids(case_ids: Iterable[str]) -> list[str]:
    out: list[str] = []
    for case_id in case_ids:
        case_id = case_id.strip()
        if not case_id or len(case_id) > 200:
            raise EntryRefused("identifiant d'affaire invalide")
        if case_id not in out:
            out.append(case_id)
    if len(out) > CASES_MAX:
        raise EntryRefused(f"une entrée concerne au plus {CASES_MAX} affaires")
    return out


class LogBook(Aggregate):
    """The entries people wrote in one scope (a crisis), in the order they were recorded."""

    @staticmethod
    def create_id(scope: str) -> UUID:
        return log_book_id(scope)

    @event("Opened")
    def __init__(self, scope: str) -> None:
        self.scope = scope
        self.entries: dict[str, dict[str, Any]] = {}  # entry id ("1", "2"…) -> the entry as written

    @event("EntryWritten")
    def _written(self, entry_id: str, kind: str, text: str, visibility: str, case_ids: list[str], author: dict,
                 organisation_id: str | None, at: datetime, amends: str | None) -> None:
        self.entries[entry_id] = {"id": entry_id, "kind": kind, "text": text, "visibility": visibility,
                                  "case_ids": list(case_ids), "author": author, "organisation_id": organisation_id,
                                  "at": at, "amends": amends}

    def write(self, *, kind: str, text: str, visibility: str, case_ids: Iterable[str], author: dict,
              organisation_id: str | None, at: datetime, amends: str | None = None) -> str:
        """Record an entry; its id. An amendment corrects an entry of the same organisation and keeps its
        visibility (a correction never shows more widely than what it corrects)."""
        if kind not in KINDS:
            raise EntryRefused(f"type d'entrée inconnu : {kind[:40]!r} (types possibles : {', '.join(KINDS)})")
        if visibility not in VISIBILITIES:
            raise EntryRefused(f"visibilité inconnue : {visibility[:40]!r} (possibles : {', '.join(VISIBILITIES)})")
        text = clean_text(text)
        cases = clean_case_ids(case_ids)
        if amends is not None:
            original = self.entries.get(amends)
            if original is None or original["organisation_id"] != organisation_id:
                raise EntryRefused("l'entrée à corriger est inconnue, ou d'une autre organisation")
            visibility = original["visibility"]
        entry_id = str(len(self.entries) + 1)
        self._written(entry_id, kind, text, visibility, cases, author, organisation_id, at, amends)
        return entry_id

    def items(self) -> list[LogItem]:
        return entry_items(self.entries.values())

    def item(self, entry_id: str) -> LogItem:
        """One entry as a log item (what a write answers: not the whole book made into items)."""
        amenders = [e for e in self.entries.values() if e["amends"] == entry_id]
        return entry_items([self.entries[entry_id], *amenders])[0]


def entry_items(entries: Iterable[Mapping[str, Any]]) -> list[LogItem]:
    """The entries as log items, each original with the ids of the entries that amend it."""
    entries = list(entries)
    amended_by: dict[str, list[str]] = {}
    for e in entries:
        if e["amends"] is not None:
            amended_by.setdefault(e["amends"], []).append(e["id"])
    return [
        LogItem(at=e["at"], kind=e["kind"], text=e["text"], source="personne", visibility=e["visibility"],
                organisation_id=e["organisation_id"], author=e["author"], case_ids=tuple(e["case_ids"]),
                amends=e["amends"], id=e["id"], amended_by=tuple(amended_by.get(e["id"], ())), recorded_at=e["at"])
        for e in entries
    ]


# ---- situation reports ---------------------------------------------------------------------------------

class SituationReports(Aggregate):
    """The numbered situation reports of one crisis: n per organisation, each with its text and the figures
    as they stood when it was written (frozen: a later change of the views never changes a report)."""

    @staticmethod
    def create_id(crisis_id: str) -> UUID:
        return reports_id(crisis_id)

    @event("Opened")
    def __init__(self, crisis_id: str) -> None:
        self.crisis_id = crisis_id
        self.reports: list[dict[str, Any]] = []

    @event("ReportWritten")
    def _written(self, organisation_id: str | None, number: int, text: str, figures: dict, request_id: str | None,
                 author: dict, at: datetime) -> None:
        self.reports.append({"organisation_id": organisation_id, "number": number, "text": text,
                             "figures": figures, "request_id": request_id, "author": author, "at": at})

    def write(self, *, organisation_id: str | None, text: str, figures: Mapping[str, Any], request_id: str | None,
              author: dict, at: datetime) -> dict[str, Any]:
        text = clean_text(text)
        if request_id is not None:
            request_id = request_id.strip()
            if not request_id or len(request_id) > 200:
                raise EntryRefused("identifiant de demande invalide")
        number = 1 + sum(1 for r in self.reports if r["organisation_id"] == organisation_id)
        self._written(organisation_id, number, text, dict(figures), request_id, author, at)
        return self.reports[-1]
