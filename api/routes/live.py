"""Live changes, pushed to dashboards as server-sent events, each client seeing only its territory.

Fed by the views' own changes: the projection worker NOTIFYs `tocsin_views` in the transaction that
writes a batch of rows (projections.store.view_store.announce). One PostgreSQL listener per process,
never one per client: on a notification (or every few seconds, in case one was missed while
reconnecting) the hub reads the case rows changed since its position from the case list, once, and
hands each to every connected client whose perimeter contains the case. Reading rows the worker
already wrote costs the same whatever a case's history, and a row is sent only once every view has
folded its events, so a client reloading its figures on a `case` event sees them include the case.

A stream lives no longer than its token: it ends with a `session-end` event when the token expires or
is revoked (a logout), checked every SESSION_CHECK_SECONDS; for a dashboard session (OpenID Connect), when
the session expires or ends, or the directory no longer holds its habilitation.

A client costs one small bounded queue; a client too slow to keep up gets a `resync` event (reload
everything) instead of an unbounded backlog. The same hub tells clients when the last NexSIS message
arrived (`feed` events, adapters/ingest/feed_freshness.py), so that a dashboard can say when the feed
has gone quiet, and since when events wait for the views.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any

import orjson
import psycopg
from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from psycopg.sql import SQL, Identifier

from adapters import metrics
from adapters.ingest.feed_freshness import freshness, last_received, waiting_since
from adapters.services import Services
from api.auth import Revocations
from api.dependencies import Reader, current_session, visible_territory
from api.schemas import FeedState
from api.web_session import current_web_session, web_sessions
from domain.access import Principal
from domain.geography import Level
from projections.read.model import ReadModel
from projections.read.queries import CHANGED_PAGE
from projections.read.rows import row_placement
from projections.store.view_store import VIEWS_CHANNEL

log = logging.getLogger(__name__)

POLL_SECONDS = 2.0  # a safety net for a notification missed while reconnecting
KEEPALIVE_SECONDS = 15.0
QUEUE_SIZE = 64
FEED_SECONDS = 5.0  # how often the last arrival is read again: clients count the seconds in between
SESSION_CHECK_SECONDS = 1.0  # how often a stream checks that its token has not expired nor been revoked

router = APIRouter(prefix="/api/v1", tags=["Temps réel"])


@dataclass(eq=False)
class Subscriber:
    principal: Principal
    level: Level
    code: str
    queue: asyncio.Queue = field(default_factory=lambda: asyncio.Queue(QUEUE_SIZE))
    overflow: bool = False

    def wants(self, summary: dict) -> bool:
        placement = row_placement(summary)
        if not self.principal.can_see_placement(placement):
            return False
        # Within the territory the client is looking at (which is inside its perimeter).
        return _inside(self.principal, self.level, self.code, placement)

    def offer(self, message: bytes) -> None:
        if self.overflow:
            return
        try:
            self.queue.put_nowait(message)
        except asyncio.QueueFull:
            self.overflow = True  # the stream sends `resync` and drops the backlog


def _inside(principal: Principal, level: Level, code: str, placement: dict) -> bool:
    for lvl, key in ((Level.COMMUNE, "insee"), (Level.DEPARTEMENT, "departement"), (Level.ZONE, "zone")):
        if placement.get(key):
            return principal.geography.contains((level, code), (lvl, placement[key]))
    return level is Level.NATIONAL


class LiveHub:
    """The process's single listener and its fan-out to connected clients."""

    def __init__(self, services: Services, read_model: ReadModel, wait_for_views: float = 2.0) -> None:
        self.services = services
        self.read_model = read_model
        # A territory view lagging behind the case list (a worker following only some views) holds the
        # news this long at most; then the rows go out before the figures include them.
        self.wait_for_views = wait_for_views
        self.subscribers: set[Subscriber] = set()
        self.position = 0  # the case rows changed up to here were published
        self._positions: tuple[int, int] | None = None  # (every view, the case list) when last read
        self._lagging_since: float | None = None
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task] = []
        self.delivered = 0
        self.arrivals: tuple[datetime | None, datetime | None] = (None, None)  # last received, views waiting since
        # The views' position a signal announced, and what the views read had reached: a standby may replay
        # a batch a little after the primary announced it, so the hub reads again soon until it has.
        self.announced = 0
        self.reached = 0
        self.replication: dict | None = None  # the readers' server: a standby's replay lag (read_arrivals)

    async def start(self) -> None:
        self.position = await run_in_threadpool(self.read_model.position)
        self.arrivals = await run_in_threadpool(read_arrivals, self.services, self.read_model)
        if self.arrivals[0] is not None:  # this process ingests (HTTP): a restart is no silent feed
            metrics.note_received(self.arrivals[0].timestamp())
        self.replication = await run_in_threadpool(self.read_model.replication)
        self._tasks = [asyncio.create_task(self._listen(), name="tocsin-listen"),
                       asyncio.create_task(self._pump(), name="tocsin-pump"),
                       asyncio.create_task(self._watch_feed(), name="tocsin-feed")]
        if self.services.settings.nats_url:  # the same news over NATS: it reaches readers of a standby
            self._tasks.append(asyncio.create_task(self._follow_nats(), name="tocsin-views-nats"))

    def feed_state(self) -> dict:
        state = freshness(self.arrivals[0], datetime.now(UTC), self.services.settings.feed_quiet_after,
                          self.arrivals[1])
        state["replication"] = self.replication
        return state

    def _announced(self, payload: dict) -> None:
        if payload.get("schema") not in (None, self.services.settings.schema):
            return
        position = payload.get("position")
        if isinstance(position, int):
            self.announced = max(self.announced, position)
        self._wake.set()

    async def _follow_nats(self) -> None:
        from adapters.nats.signal import follow, views_subject

        settings = self.services.settings
        while True:
            try:
                await follow(settings.nats_url or "", views_subject(settings.schema), self._announced)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - NATS away: PostgreSQL's NOTIFY and the polling remain
                log.warning("views signal over NATS lost; reconnecting", exc_info=True)
                await asyncio.sleep(2.0)

    async def stop(self) -> None:
        await cancel_all(self._tasks)

    def subscribe(self, principal: Principal, level: Level, code: str) -> Subscriber:
        sub = Subscriber(principal, level, code)
        self.subscribers.add(sub)
        metrics.LIVE_STREAMS.inc()
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        if sub in self.subscribers:
            self.subscribers.discard(sub)
            metrics.LIVE_STREAMS.dec()

    async def _listen(self) -> None:
        store = self.services.store
        schema = store.settings.schema
        delay = 0.5
        while True:
            try:
                # A connection of its own, not the pool's: LISTEN belongs to a session that stays open.
                async with await psycopg.AsyncConnection.connect(store.database_url, autocommit=True) as conn:
                    await conn.execute(SQL("LISTEN {}").format(Identifier(VIEWS_CHANNEL)))
                    delay = 0.5
                    self._wake.set()  # catch up with whatever happened while not listening
                    async for note in conn.notifies():
                        if _of_schema(note.payload, schema):
                            self._announced(_payload(note.payload))
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - reconnect, the pump's polling covers the gap
                log.warning("live listener lost its connection; reconnecting", exc_info=True)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)

    async def _pump(self) -> None:
        while True:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._next_poll())
            self._wake.clear()
            try:
                await self.publish_changes()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001
                log.exception("live fan-out failed")
                await asyncio.sleep(1.0)

    def _next_poll(self) -> float:
        if self.announced > self.reached:  # announced, not replayed yet where the views are read
            return 0.05
        if self._lagging_since is None:
            return POLL_SECONDS
        waited = asyncio.get_running_loop().time() - self._lagging_since
        return max(0.01, min(POLL_SECONDS, self.wait_for_views - waited))

    async def _watch_feed(self) -> None:
        while True:
            await asyncio.sleep(FEED_SECONDS)
            try:
                arrivals = await run_in_threadpool(read_arrivals, self.services, self.read_model)
                replication = await run_in_threadpool(self.read_model.replication)
            except Exception:  # noqa: BLE001 - the database is away: say nothing new, try again
                log.warning("could not read the last NexSIS arrival", exc_info=True)
                continue
            if arrivals != self.arrivals or replication != self.replication:
                self.arrivals, self.replication = arrivals, replication
                message = _sse("feed", self.feed_state())
                for sub in list(self.subscribers):
                    sub.offer(message)

    async def publish_changes(self) -> int:
        """Publish the case rows the views changed since the last call; how many."""
        now = asyncio.get_running_loop().time()
        ahead = self._lagging_since is not None and now - self._lagging_since >= self.wait_for_views
        published = 0
        while True:
            changed = await run_in_threadpool(self.read_model.changed_cases, self.position, ahead=ahead)
            if (changed.reached, changed.listed) != self._positions:
                self._positions = (changed.reached, changed.listed)
                self.read_model.invalidate()  # before the news: a client reloading on it sees new figures
            if changed.rows and ahead and changed.upto > changed.reached:
                log.warning("projections behind position %s: live news sent before the views include it",
                            changed.upto)
            self.position = changed.upto
            self.reached = changed.reached
            for summary in changed.rows:
                self.publish(summary)
            published += len(changed.rows)
            if len(changed.rows) < CHANGED_PAGE:
                break
        if changed.listed > max(changed.reached, self.position):
            self._lagging_since = self._lagging_since if self._lagging_since is not None else now
        else:
            self._lagging_since = None
        return published

    def publish(self, summary: dict) -> None:
        message = _sse("case", summary)
        for sub in list(self.subscribers):
            if sub.wants(summary):
                sub.offer(message)
                self.delivered += 1


def _payload(payload: str) -> dict:
    try:
        value = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def _of_schema(payload: str, schema: str) -> bool:
    """Is a views notification about this store? (A channel is the database's, shared by schemas.)"""
    try:
        return orjson.loads(payload).get("schema") == schema
    except (orjson.JSONDecodeError, AttributeError):
        return True  # unreadable: a needless read costs less than a missed one


def read_arrivals(services: Services, read_model: ReadModel | None) -> tuple[datetime | None, datetime | None]:
    """The last NexSIS arrival, and since when events wait for the views (None without a read model)."""
    waiting = waiting_since(services.store, read_model.position()) if read_model is not None else None
    return last_received(services.store), waiting


async def cancel_all(tasks: list[asyncio.Task], grace: float = 5.0) -> None:
    """Cancel the tasks and wait for them, `grace` seconds at most: a task that swallowed its cancellation
    (a client library's retry loop) must not hold the server's shutdown for ever; it is named in the log."""
    for task in tasks:
        task.cancel()
    if not tasks:
        return
    _, pending = await asyncio.wait(tasks, timeout=grace)
    for task in pending:
        log.error("task %s did not stop within %.0f s of its cancellation; shutting down without it",
                  task.get_name(), grace)


def _sse(event: str, data: Any) -> bytes:
    return b"event: " + event.encode() + b"\ndata: " + orjson.dumps(data, default=str) + b"\n\n"


@router.get(
    "/stream",
    summary="Flux temps réel (server-sent events) des affaires qui changent dans un territoire",
    description=(
        "Événements `hello` (à la connexion, avec l'état du flux NexSIS), `case` (résumé d'une affaire créée ou "
        "modifiée, sans données personnelles), `feed` (un nouveau message NexSIS est arrivé : même contenu que "
        "`/api/v1/feed`), `alert` et `callout` (alertes et appels à mobilisation qui vous concernent), `crisis` (une "
        "crise à laquelle vous prenez part est ouverte, change d'affaires rattachées ou est close : relire sa vue) "
        "et `resync` (client trop lent : tout recharger). Par défaut, votre territoire."
    ),
    response_class=StreamingResponse,
)
async def stream(
    request: Request,
    principal: Reader,
    level: Annotated[str | None, Query(description="Niveau du territoire (par défaut : le vôtre)")] = None,
    code: Annotated[str | None, Query(description="Code du territoire")] = None,
) -> StreamingResponse:
    if level is None or code is None:
        lvl, code = principal.level, principal.code
    else:
        lvl, code = visible_territory(principal, level, code)
    hub: LiveHub = request.app.state.live
    _, token_id = await current_session(request)  # already verified for `principal`: the cached session
    revocations: Revocations = request.app.state.revocations
    # A dashboard session (OpenID Connect): it ends with the session or with its habilitation.
    session = await current_web_session(request) if token_id.startswith("session:") else None
    sessions = web_sessions(request)
    sub = hub.subscribe(principal, lvl, code)

    async def ended() -> str | None:
        if time.time() >= principal.expires_at:
            return "expired"
        if session is not None and sessions is not None:
            return await run_in_threadpool(sessions.in_force, session)
        if await revocations.is_revoked(token_id):
            return "revoked"
        return None

    async def events() -> AsyncIterator[bytes]:
        try:
            yield b"retry: 2000\n\n" + _sse("hello", {"level": lvl.value, "code": code, "feed": hub.feed_state()})
            quiet_since = time.monotonic()
            while True:
                if (reason := await ended()) is not None:
                    log.info("live stream of %s (%s) ends: session %s", token_id[:20], principal.territory, reason)
                    yield _sse("session-end", {"reason": reason})
                    return
                wait = min(SESSION_CHECK_SECONDS, max(0.0, principal.expires_at - time.time()))
                try:
                    message = await asyncio.wait_for(sub.queue.get(), wait)
                except TimeoutError:
                    if time.monotonic() - quiet_since >= KEEPALIVE_SECONDS:
                        quiet_since = time.monotonic()
                        yield b": keepalive\n\n"
                    continue
                quiet_since = time.monotonic()
                if sub.overflow:
                    while not sub.queue.empty():
                        sub.queue.get_nowait()
                    sub.overflow = False
                    yield _sse("resync", {})
                    continue
                yield message
        finally:
            hub.unsubscribe(sub)

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.get(
    "/feed",
    summary="Fraîcheur du flux NexSIS : heure du dernier message reçu",
    description=(
        "`last_received_at` : arrivée du dernier message NexSIS (accepté ou mis en quarantaine ; "
        "venu de NATS, doublon compris), "
        "`null` avant le premier ; `quiet` : aucun message depuis plus de `quiet_after_seconds` "
        "(TOCSIN_FEED_QUIET_AFTER) ; `views_waiting_since` : enregistrement du plus ancien événement pas encore "
        "intégré aux vues (chiffres, carte, liste), `null` si elles sont à jour ; `views_late` : il attend depuis "
        "plus de `views_late_after_seconds` ; `now` : l'heure du serveur ; `replication` : le serveur où les vues sont "
        "lues (`standby` : un secondaire) et son retard de rejeu sur le primaire (`lag_seconds`, `lag_bytes`). "
        "Même état pour tous : le flux est national."
    ),
    response_model=FeedState,
)
async def feed(request: Request, principal: Reader) -> dict:
    services: Services = request.app.state.services
    last, waiting = await run_in_threadpool(read_arrivals, services, request.app.state.read_model)
    state = freshness(last, datetime.now(UTC), services.settings.feed_quiet_after, waiting)
    state["replication"] = await run_in_threadpool(request.app.state.read_model.replication)
    return state
