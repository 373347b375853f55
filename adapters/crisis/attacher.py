"""The crisis attacher: a process fed by the event store that attaches cases to the open crises whose rule
they match (domain.crisis: the crisis's territory, from its start, of the nature families its kind implies).

It follows the store as the alert policy does (adapters.notify.policy): its own position, pages in
notification order, woken by the store's NOTIFY, one process at a time (an advisory lock; another waits to
take over). For each case event it folds the case (domain.case_state) and asks every open crisis whether
the case matches; the crises it attaches to get a `CaseAttached` event, recorded in one transaction with
its new position and what it knows of the cases touched (adapters.crisis.attach_store).

Which time: the case's first recording by Tocsin. A case that arrived before the crisis's start does not
attach when a later message updates it; the one who opens a crisis sets its start earlier to take it.

Crises opened after cases arrived (or with a start in the past) are handled by this same process, when it
reaches the crisis's `Opened` event: every case it has recorded before that event is in its table of known
cases, so it attaches those of the territory, family and time the rule says, and every case event after the
`Opened` one is matched as it comes. One reader in one order leaves no gap between the two (a case recorded
while the crisis is being opened is seen by one or the other); doing it in the opening request instead
would read the views, which lag behind the store, and miss the cases recorded in between.

It starts from the beginning of the history the first time (unlike the alert policy, which starts at the
head so as not to alert on stale news): a crisis opened later with a past start needs the cases recorded
before. Attaching by rule is idempotent and a case detached by hand never comes back, so a rebuild (the
position set back to 0), a replay or a second process never attaches twice.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from functools import partial
from typing import Any
from uuid import UUID

import psycopg
from eventsourcing.persistence import IntegrityError
from eventsourcing.persistence import OperationalError as PersistenceOperationalError

from adapters.crisis import attach_store
from adapters.crisis.attach_store import KnownCase
from adapters.crisis.crises import OPENED_TOPIC, get_crisis
from adapters.notify.alert_store import first_event_ids
from adapters.store.codec import CaseEvent, EventDecoder
from adapters.store.event_store import TocsinStore
from adapters.store.following import case_histories, events_after
from adapters.store.locks import run_while_leading
from domain.alert_rules import EXERCISE_STATUS
from domain.case_state import CaseState, apply_message, best_placement
from domain.crisis import Crisis, case_territories

log = logging.getLogger(__name__)

NAME = "crisis-attacher"
PAGE = 2000
MAX_STATES = 100_000  # cases kept folded in memory between pages
CRISIS_TOPIC_PREFIX = OPENED_TOPIC.rpartition(".")[0] + "."  # 'domain.crisis:Crisis.'
RETRIES = 5


class StalePosition(RuntimeError):
    """Another process moved the attacher's position between reading and recording: nothing was recorded."""


def attacher_lock_key(schema: str) -> int:
    digest = hashlib.sha256(f"tocsin-crisis-attacher:{schema}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class CrisisAttacher:
    def __init__(self, store: TocsinStore, *, page: int = PAGE) -> None:
        self.store = store
        self.page = page
        self.decoder = EventDecoder(store.mapper)
        self.states: dict[UUID, CaseState] = {}  # as of self.position
        self.first_seen: dict[UUID, datetime] = {}
        self.exercise: dict[UUID, bool] = {}  # the case's first message was an exercise's
        self.closed: set[UUID] = set()  # crises closed (a closed crisis never opens again)
        # The open crises as last read, to plan with: each page reads again only the crises it has events
        # of (every act on a crisis is an event this process reads in order). Planning only: the crises
        # a page attaches to are read again before their events are recorded (`_apply`).
        self.crises: dict[UUID, Crisis] | None = None
        self.position: int | None = None
        self.attached = 0  # cases attached by this process (for status and tests)
        self.conn = psycopg.connect(store.database_url, autocommit=True)
        attach_store.ensure_tables(store)
        attach_store.start(self.conn, store, NAME)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> CrisisAttacher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def stored_position(self) -> int:
        return attach_store.position(self.conn, self.store, NAME)

    # ---- one step -------------------------------------------------------------------------------

    def step(self) -> int:
        """Attach what the next page of events calls for; the number of events read."""
        position = self.stored_position()
        if position != self.position:
            self._forget()
        rows = self._read(position)
        if not rows:
            return 0
        last = int(rows[-1][0])
        try:
            known, plan = self._plan(rows, position)
            self._record(known, plan, position, last)
        except BaseException:
            self._forget()
            raise
        self.position = last
        if len(self.states) > MAX_STATES:
            self._forget()  # bounded memory: a case seen again is folded again from its events
        return len(rows)

    def catch_up(self) -> int:
        total = 0
        while n := self.step():
            total += n
        return total

    def run(self, stop: threading.Event, poll_seconds: float = 1.0, on_step: Callable[[], None] | None = None) -> None:
        """Attach until `stop` is set, while holding the attacher's lock (another process waits)."""
        run_while_leading(self.store.database_url, attacher_lock_key(self.store.settings.schema), self.step, stop,
                          poll_seconds, on_step)

    def _forget(self) -> None:
        self.crises = None
        self.states.clear()
        self.first_seen.clear()
        self.exercise.clear()
        self.position = None

    def _read(self, after: int) -> list[tuple]:
        return events_after(self.conn, self.store, after, self.page)

    def _warm(self, events: list[CaseEvent], position: int) -> None:
        """Fold, from their events up to `position`, the cases of this page not in memory."""
        cold = list({e.originator_id for e in events} - self.states.keys())
        if not cold:
            return
        history = case_histories(self.conn, self.store, self.decoder, cold, position)
        for oid in cold:
            self.states[oid] = CaseState()
        for e in history:
            apply_message(self.states[e.originator_id], e.kind, e.facts, e.provenance)
            self.first_seen.setdefault(e.originator_id, e.recorded_at)
            self.exercise.setdefault(e.originator_id, e.provenance.get("status") == EXERCISE_STATUS)

    # ---- deciding -------------------------------------------------------------------------------

    def _open_crises(self, changed: set[UUID]) -> dict[UUID, Crisis]:
        """Every open crisis (the rule of a closed one takes nothing more): all read the first time, then
        those of `changed` (the crises this page has events of) read again, as they stand now."""
        if self.crises is None:
            ids = [i for i in first_event_ids(self.store, OPENED_TOPIC, 100_000) if i not in self.closed]
            self.crises = {}
        else:
            ids = [i for i in changed if i not in self.closed]
        for crisis_id in ids:
            crisis = get_crisis(self.store, crisis_id)
            if crisis is None:
                continue
            if crisis.is_open:
                self.crises[crisis_id] = crisis
            else:
                self.closed.add(crisis_id)  # closed for good: not read again
                self.crises.pop(crisis_id, None)
        return dict(self.crises)

    def _plan(self, rows: list[tuple], position: int) -> tuple[dict[UUID, KnownCase], dict[UUID, list[str]]]:
        """What this page teaches of its cases, and the cases to attach to each crisis, in the page's order."""
        events = self.decoder.decode(rows)
        self._warm(events, position)
        opened = [(int(r[0]), r[1]) for r in rows if r[3] == OPENED_TOPIC]
        changed = {r[1] for r in rows if str(r[3]).startswith(CRISIS_TOPIC_PREFIX)}
        crises = self._open_crises(changed) if events or changed else {}
        known: dict[UUID, KnownCase] = {}
        plan: dict[UUID, list[str]] = {}

        def attach(crisis: Crisis, case_id: str) -> None:
            todo = plan.setdefault(crisis.id, [])
            if case_id not in todo and case_id not in crisis.cases and case_id not in crisis.detached:
                todo.append(case_id)

        pending = sorted([(e.notification_id, e) for e in events] + [(n, oid) for n, oid in opened],
                         key=lambda item: item[0])
        for _, item in pending:
            if isinstance(item, CaseEvent):
                case = self._fold(item)
                known[item.originator_id] = case
                for crisis in crises.values():
                    if crisis.matches(case.territories, case.family, case.first_recorded_at, case.exercise):
                        attach(crisis, case.case_id)
            elif (new := crises.get(item)) is not None:
                # A crisis opened: the cases recorded before its `Opened` event that its rule takes.
                families = [str(f) for f in new.families]
                for case_id, _first in attach_store.matching(self.conn, self.store, new.territory, new.start,
                                                             families, new.exercise):
                    attach(new, case_id)
                for case in known.values():  # this page's, not in the table yet
                    if new.matches(case.territories, case.family, case.first_recorded_at, case.exercise):
                        attach(new, case.case_id)
        return known, {cid: ids for cid, ids in plan.items() if ids}

    def _fold(self, e: CaseEvent) -> KnownCase:
        state = self.states[e.originator_id]
        apply_message(state, e.kind, e.facts, e.provenance)
        first = self.first_seen.setdefault(e.originator_id, e.recorded_at)
        exercise = self.exercise.setdefault(e.originator_id, e.provenance.get("status") == EXERCISE_STATUS)
        return KnownCase(e.originator_id, state.case_id or e.case_id, first,
                         case_territories(best_placement(state)), str(state.family), exercise)

    # ---- recording ------------------------------------------------------------------------------

    def _record(self, known: dict[UUID, KnownCase], plan: dict[UUID, list[str]], position: int, last: int) -> None:
        statements: list[tuple[Any, Sequence[Any]]] = [attach_store.move(self.store, NAME, position, last)]
        if known:
            statements.append(attach_store.upsert(self.store, list(known.values())))
        for attempt in range(RETRIES):
            crises, attached = self._apply(plan)
            try:
                if crises:
                    # Written in the events' transaction (the recorder's `also`), unprepared.
                    self.store.save(*crises, also=[partial(_execute, sql, params) for sql, params in statements])
                else:
                    with self.conn.transaction():
                        for statement, params in statements:
                            self.conn.execute(statement, params)
            except IntegrityError:
                # A person acted on one of these crises meanwhile (a newer version): read them again.
                if attempt == RETRIES - 1:
                    raise
                continue
            except (psycopg.errors.SerializationFailure, PersistenceOperationalError) as e:
                if self.stored_position() != position:
                    raise StalePosition("crisis attacher position moved by another process: nothing recorded") from e
                raise
            self.attached += attached
            return

    def _apply(self, plan: dict[UUID, list[str]]) -> tuple[list[Crisis], int]:
        """The crises of the plan, read again, with the cases their rule takes attached (none twice), and
        how many were."""
        now = datetime.now(UTC)
        changed, attached = [], 0
        for crisis_id, case_ids in plan.items():
            crisis = get_crisis(self.store, crisis_id)
            if crisis is None:
                continue
            n = sum(crisis.attach_by_rule(case_id, now) for case_id in case_ids)
            if n:
                changed.append(crisis)
                attached += n
        return changed, attached


def _execute(statement: Any, params: Sequence[Any], curs: Any) -> None:
    curs.execute(statement, params, prepare=False)
