"""Log book and situation report use cases (domain.logbook), the same for every door: write an entry or a
correction, read the entries a reader may see, write and read the situation reports; the alerts of a
crisis as log items. Each as it stands now, or as it stood at a past moment (`at`: the events recorded
by then), for replay.

Entries and reports of a crisis are events of one aggregate each (domain.logbook says why). When two
people write at the same moment, the store refuses the second event at the same version; the act is then
applied again on the newer version after a random pause that grows with each try. Within one process the
writers of one aggregate also queue on a lock first: without it, a dozen threads writing at once kept
colliding (each retry reads the whole book again) until some gave up; the retry remains for writers in
other processes.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar, cast
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError

from adapters.crisis.crises import find_crisis, organisation_of
from adapters.notify.alert_store import RAISED_TOPIC, first_event_ids, get_alert
from adapters.store.event_store import TocsinStore
from domain.access import Denied, Principal, actor, check_may_write_log, may_read_log_entry, may_see_alert
from domain.access import organisation_territory as territory_of_organisation
from domain.crisis import Crisis
from domain.geography import Hierarchy, Level
from domain.logbook import LogBook, LogItem, SituationReports, crisis_scope, log_book_id, reports_id

TRIES = 12
# Alerts are read newest first and no further than this before the crisis began (the servers' clocks differ).
CLOCK_MARGIN = timedelta(minutes=5)
A = TypeVar("A", bound=Aggregate)


def aggregate_as_of(store: TocsinStore, aggregate_id: UUID, kind: type[A], at: datetime | None = None) -> A | None:
    """The aggregate now, or as its events recorded by `at` made it (None: it did not exist yet)."""
    version = None
    if at is not None:
        version = version_at(store, aggregate_id, at)
        if version == 0:
            return None
    try:
        found: Any = store.snapshotted.get(aggregate_id, version=version)
    except AggregateNotFoundError:
        return None
    return found if isinstance(found, kind) else None


def version_at(store: TocsinStore, aggregate_id: UUID, at: datetime) -> int:
    """The version an aggregate had at `at`: its last event recorded by then (0: none yet). Read from the
    newest event back, so that a moment late in a long history decrypts only the events after it (an
    aggregate's events are recorded in the order of their timestamps: each is made on the version before)."""
    for e in store.events.get(aggregate_id, desc=True):
        if cast(Aggregate.Event, e).timestamp <= at:
            return cast(Aggregate.Event, e).originator_version
    return 0


def crisis_as_of(store: TocsinStore, crisis_id: str | UUID, principal: Principal | None,
                 at: datetime | None = None) -> Crisis:
    """The crisis (404 rules of find_crisis), as it stood at `at` when given: its cases then."""
    crisis = find_crisis(store, crisis_id, principal)
    if at is None:
        return crisis
    then = aggregate_as_of(store, crisis.id, Crisis, at)
    if then is None:
        raise LookupError("la crise n'était pas encore ouverte à ce moment")
    return then


# Striped locks: the writers of one aggregate queue in this process; a bounded number of locks whatever
# the number of crises (two crises sharing a stripe only wait for each other's short writes).
_STRIPES = [threading.Lock() for _ in range(64)]


def _record(store: TocsinStore, aggregate_id: UUID, load: Callable[[], A | None], create: Callable[[], A],
            act: Callable[[A], Any]) -> tuple[A, Any]:
    """Apply an act to the latest version of an aggregate (created when it has no event yet) and save it,
    again on the newer version when another writer's event landed first."""
    with _STRIPES[aggregate_id.int % len(_STRIPES)]:
        for attempt in range(TRIES):
            aggregate = load() or create()
            result = act(aggregate)
            try:
                store.save(aggregate)
                return aggregate, result
            except IntegrityError:
                time.sleep(random.uniform(0, min(0.5, 0.01 * 2 ** attempt)))
    raise RuntimeError(f"act could not be recorded after {TRIES} tries (too many simultaneous writers)")


# ---- the log book -------------------------------------------------------------------------------------

def write_entry(store: TocsinStore, crisis_id: str | UUID, principal: Principal, *, kind: str, text: str,
                visibility: str = "organisation", case_ids: Iterable[str] = (), amends: str | None = None) -> LogItem:
    """Write an entry (or, with `amends`, a correction of an earlier entry) in the crisis's log book."""
    check_may_write_log(principal)
    crisis = find_crisis(store, crisis_id, principal)
    crisis.check_open()
    scope = crisis_scope(crisis.id)
    who = actor(principal)
    organisation = organisation_of(principal)
    cases = list(case_ids)

    def act(book: LogBook) -> str:
        return book.write(kind=kind, text=text, visibility=visibility, case_ids=cases, author=who,
                          organisation_id=organisation, at=datetime.now(UTC), amends=amends)

    book, entry_id = _record(store, log_book_id(scope), lambda: aggregate_as_of(store, log_book_id(scope), LogBook),
                             lambda: LogBook(scope), act)
    return book.item(entry_id)


def person_entries(store: TocsinStore, crisis: Crisis, principal: Principal | None,
                   at: datetime | None = None) -> list[LogItem]:
    """The entries people wrote that this reader may read (None: the operator, who reads all)."""
    book = aggregate_as_of(store, log_book_id(crisis_scope(crisis.id)), LogBook, at)
    if book is None:
        return []
    items = book.items()
    if principal is None:
        return items
    reader = organisation_of(principal)
    return [i for i in items if may_read_log_entry(reader, i.organisation_id, i.visibility)]


def organisation_scope(organisation_id: str) -> str:
    return f"organisation:{organisation_id}"


def _own_organisation(principal: Principal) -> str:
    organisation = organisation_of(principal)
    if organisation is None:
        raise Denied("votre rôle n'agit pour aucune organisation : pas de main courante propre")
    return organisation


def write_own_entry(store: TocsinStore, principal: Principal, *, kind: str, text: str, case_ids: Iterable[str] = (),
                    amends: str | None = None) -> LogItem:
    """Write in the principal's organisation's own log book, outside any crisis (read by its people only)."""
    check_may_write_log(principal)
    scope = organisation_scope(_own_organisation(principal))
    who = actor(principal)
    cases = list(case_ids)

    def act(book: LogBook) -> str:
        return book.write(kind=kind, text=text, visibility="organisation", case_ids=cases, author=who,
                          organisation_id=organisation_of(principal), at=datetime.now(UTC), amends=amends)

    book, entry_id = _record(store, log_book_id(scope), lambda: aggregate_as_of(store, log_book_id(scope), LogBook),
                             lambda: LogBook(scope), act)
    return book.item(entry_id)


def own_entries(store: TocsinStore, organisation_id: str, at: datetime | None = None) -> list[LogItem]:
    """An organisation's own log book (the caller acts for it: `own_log_of`)."""
    book = aggregate_as_of(store, log_book_id(organisation_scope(organisation_id)), LogBook, at)
    return book.items() if book else []


def own_log_of(store: TocsinStore, principal: Principal, at: datetime | None = None) -> tuple[str, list[LogItem]]:
    organisation = _own_organisation(principal)
    return organisation, own_entries(store, organisation, at)


# ---- alerts as log items -----------------------------------------------------------------------------

def alert_items(store: TocsinStore, geography: Hierarchy, crisis: Crisis, principal: Principal | None,
                at: datetime | None = None, limit: int = 2000) -> list[LogItem]:
    """The alerts raised since the crisis began about its cases or to the organisations of its territory,
    that the reader may see (domain.access.may_see_alert); their acknowledgements with them."""
    level, _, code = crisis.territory.partition(":")
    crisis_territory = (Level(level), code)
    items = []
    for alert_id in first_event_ids(store, RAISED_TOPIC, limit):  # the most recently recorded first
        alert = get_alert(store, alert_id)
        if alert is None:
            continue
        raised = alert.raised_at
        if raised < crisis.start - CLOCK_MARGIN:
            break  # recorded in the order raised (up to the processes' clocks): the rest are older still
        if raised < crisis.start or (at is not None and raised > at):
            continue
        where = territory_of_organisation(alert.organisation_id)
        inside = where is not None and geography.contains(crisis_territory, where)
        if alert.case_id not in crisis.cases and not inside:
            continue
        if principal is not None and not may_see_alert(principal, alert.organisation_id, alert.recipients):
            continue
        acknowledged = alert.acknowledged_at is not None and (at is None or alert.acknowledged_at <= at)
        text = alert.reason + (f" — reçue par {alert.acknowledged_by['name']}"  # type: ignore[index]
                               if acknowledged else "")
        items.append(LogItem(
            at=raised, kind="alert", text=text, source="alerte", visibility="organisation",
            organisation_id=alert.organisation_id, case_ids=(alert.case_id,) if alert.case_id else (),
            id=str(alert.id), recorded_at=raised,
            details={"severity": alert.severity, "exercise": alert.exercise, "acknowledged": acknowledged}))
    return items


# ---- situation reports -------------------------------------------------------------------------------

def write_report(store: TocsinStore, crisis_id: str | UUID, principal: Principal, *, text: str,
                 figures: Mapping[str, Any], request_id: str | None = None) -> dict[str, Any]:
    """Write the next situation report of the principal's organisation, with the figures the entry point
    read from the views just before (projections.read.crisis_log.report_figures)."""
    check_may_write_log(principal)
    crisis = find_crisis(store, crisis_id, principal)
    crisis.check_open()
    who = actor(principal)
    organisation = organisation_of(principal)

    def act(reports: SituationReports) -> dict[str, Any]:
        return reports.write(organisation_id=organisation, text=text, figures=figures, request_id=request_id,
                             author=who, at=datetime.now(UTC))

    _, report = _record(store, reports_id(crisis.id),
                        lambda: aggregate_as_of(store, reports_id(crisis.id), SituationReports),
                        lambda: SituationReports(str(crisis.id)), act)
    return report_dict(report)


def crisis_reports(store: TocsinStore, crisis: Crisis, at: datetime | None = None) -> list[dict[str, Any]]:
    """Every report of the crisis in the order written (all who take part read them: they are written to
    be shared)."""
    reports = aggregate_as_of(store, reports_id(crisis.id), SituationReports, at)
    return [report_dict(r) for r in reports.reports] if reports else []


def report_dict(report: Mapping[str, Any]) -> dict[str, Any]:
    return {"organisation_id": report["organisation_id"], "number": report["number"], "text": report["text"],
            "figures": dict(report["figures"]), "request_id": report["request_id"], "author": report["author"],
            "at": report["at"].isoformat()}
