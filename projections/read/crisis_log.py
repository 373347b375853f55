"""A crisis's log book as people read it: the entries they wrote, and, merged by time, what the history
shows without them (the NexSIS messages of the crisis's cases, the alerts, the requests); and the figures
a situation report freezes.

The automatic items come from SOURCES, one function per kind: each gets the crisis, the reader and the
moment read (None: now) and returns the log items that reader may see. A new kind of automatic item is one
more line there: the requests' acts are `request_items` (source `demande`, kind `request`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from eventsourcing.application import project_aggregate

from adapters.crisis.crises import organisation_of
from adapters.crisis.logbook import alert_items, person_entries
from adapters.crisis.requests import requests_of_crisis
from adapters.geography import Geography
from adapters.store.event_store import TocsinStore
from domain.access import Principal, case_description, may_see_request
from domain.case import Case
from domain.case_state import CONCOURS, REPORTED, SITUATION, best_placement, parse_time
from domain.crisis import Crisis
from domain.identity import case_uuid
from domain.logbook import LogItem, merged
from domain.request import KINDS as REQUEST_KINDS
from projections.read.readable import message_changes, organisation_label


@dataclass(frozen=True)
class SourceContext:
    store: TocsinStore
    geography: Geography
    crisis: Crisis  # as it stood at `at` (its attached cases then)
    principal: Principal | None  # None: the operator on the server, who reads everything
    at: datetime | None  # None: now; else only what was recorded by then


Source = Callable[[SourceContext], Iterable[LogItem]]


def nexsis_items(ctx: SourceContext) -> list[LogItem]:
    """Each NexSIS message of the crisis's cases, with what it changed, for the cases the reader may see.
    The description of the situation a first report or a situation message gives is shown masked
    (names, phone numbers) unless the reader's role may see personal data; the data about people never."""
    personal = ctx.principal is None or ctx.principal.may_see_personal
    items: list[LogItem] = []
    for case_id in sorted(ctx.crisis.cases):
        # The case's events, read and decrypted once: folded into the case (whose placement says who may
        # see it) and shown one by one.
        recorded = [cast(Case.MessageRecorded, e) for e in ctx.store.events.get(case_uuid(case_id))]
        if not recorded:
            continue  # attached by hand before its first message arrived
        case = cast(Case, project_aggregate(None, recorded))
        if ctx.principal is not None and not ctx.principal.can_see_placement(best_placement(case.state) or {}):
            continue
        events = [e for e in recorded if ctx.at is None or e.timestamp <= ctx.at]
        lines = message_changes((e.kind, e.facts, e.provenance) for e in events)
        for event, (provenance, title, changes) in zip(events, lines, strict=True):
            text = f"{case_id} — {title} ({organisation_label(provenance.get('sender_id'))}) : {' ; '.join(changes)}"
            if event.kind in (REPORTED, SITUATION, CONCOURS):  # an EMSI with a concours describes too
                described = case_description(event.facts.get("personal"), personal=personal)
                text += "".join(f"\n{label} : {said}" for label, said in described)
            happened = parse_time(provenance.get("sent_at")) or parse_time(provenance.get("received_at"))
            items.append(LogItem(
                at=happened or event.timestamp, kind="message", text=text, source="nexsis", visibility="crisis",
                organisation_id=provenance.get("sender_id"), case_ids=(case_id,),
                id=f"{case_id}#{event.originator_version}", recorded_at=event.timestamp,
                details={"distribution_id": provenance.get("distribution_id"), "message_kind": event.kind}))
    return items


def request_items(ctx: SourceContext) -> list[LogItem]:
    """Each act of the crisis's requests between authorities (issued, seen, answered…), for the requests
    the reader may see (domain.access.may_see_request), as they stood at the moment read."""
    acting = organisation_of(ctx.principal) if ctx.principal is not None else None
    items: list[LogItem] = []
    for request in requests_of_crisis(ctx.store, ctx.crisis.id):
        if ctx.principal is not None and not may_see_request(ctx.principal, acting, request.parties()):
            continue
        head = (f"Demande {request.ref} ({REQUEST_KINDS[request.kind].label}, {request.issuer['name']} → "
                f"{request.addressee['name']})")
        for n, step in enumerate(request.history, start=1):
            at = datetime.fromisoformat(step["at"])
            if ctx.at is not None and at > ctx.at:
                break
            by = step.get("by") or None
            said = f" : {step['text']}" if step.get("text") else ""
            items.append(LogItem(
                at=at, kind="request", text=f"{head} — {step['label']}{said}", source="demande", visibility="crisis",
                organisation_id=(by or {}).get("organisation_id") or request.issuer["id"], author=by,
                case_ids=(request.case_id,) if request.case_id else (), id=f"{request.ref}#{n}", recorded_at=at,
                details={"request_id": request.ref, "act": step["act"]}))
    return items


def _alerts(ctx: SourceContext) -> list[LogItem]:
    return alert_items(ctx.store, ctx.geography, ctx.crisis, ctx.principal, ctx.at)


# The automatic items of the log book, by source (domain.logbook.SOURCES).
SOURCES: dict[str, Source] = {
    "nexsis": nexsis_items,
    "alerte": _alerts,
    "demande": request_items,
}


def crisis_log(store: TocsinStore, geography: Geography, crisis: Crisis, principal: Principal | None, *,
               at: datetime | None = None, sources: Mapping[str, Source] | None = None) -> list[LogItem]:
    """The log book a reader sees, oldest first: the entries written by people they may read, and the
    automatic items of every source. `crisis` as it stood at `at` when `at` is given."""
    ctx = SourceContext(store, geography, crisis, principal, at)
    chosen = SOURCES if sources is None else sources
    return merged(person_entries(store, crisis, principal, at), *(source(ctx) for source in chosen.values()))


# ---- the figures a situation report freezes ----------------------------------------------------------

# What of a territory's view a report keeps: its figures, not its lists (the cases change; the report's
# figures are what was known when it was written).
_DROPPED = ("most_serious", "position", "case_list_position", "windows_until")


def report_figures(view: Mapping[str, Any]) -> dict[str, Any]:
    """The figures of the crisis territory's view (projections.read.queries.territory_view), as frozen in
    a situation report."""
    return {k: v for k, v in view.items() if k not in _DROPPED}


def crisis_view_figures(store: Any, geography: Geography, crisis: Crisis) -> dict[str, Any]:
    """The crisis territory's figures now, read from the views (the CLI's way; the API reads its cached
    read model's view and calls `report_figures`)."""
    from domain.geography import Level
    from projections.read.queries import territory_view

    level, _, code = crisis.territory.partition(":")
    return report_figures(territory_view(store, Level(level), code, geography=geography))
