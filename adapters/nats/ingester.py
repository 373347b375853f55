"""Live ingestion from NATS JetStream: exactly once, through crashes, in stream order.

    NatsIngester(services, url, batch_size=500, drain=False, prepare_workers=None).run(stop) -> IngestSummary

How exactly-once holds:
- one ingester reads a stream at a time (PostgreSQL advisory lock, see nats_leader); others wait;
- on taking the lead it recreates the consumer right after the position stored in PostgreSQL, once it
  has checked that the stream still holds, at that sequence, the message stored there (its hash);
- each batch is written with its position (`Position('nats:<stream>', last seq, that message's hash)`),
  so the events and the position commit together; the batch is acknowledged only after that commit;
- anything delivered again (seq <= position when its batch commits) is skipped; anything else that was
  already stored is recognised by its distributionID (or, for quarantine, by its bytes' hash).

Pipelined: a reader task fetches batches and has them prepared (parsed, validated, sealed) by worker
processes (adapters/prepare_pool.py) as they arrive, while the committing loop writes the previous
one; the loop still commits and acknowledges one batch after the other, in stream order.

Messages the stream no longer holds when their turn comes (its limits, a purge) cannot be ingested:
the jump in sequences is logged as an error and recorded (adapters/stream_gaps.py), for `tocsin status`.

Failures: a database or NATS outage (even one the NATS client rides out by reconnecting) drops the
lead, waits (growing backoff) and starts again from the stored position, checked against the stream:
nothing is acknowledged that is not committed. A batch that fails for any other
reason is split and its messages retried one by one a bounded number of times; a message still
failing is quarantined with code 'poison' and acknowledged, so the stream never stalls behind it.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import nats.errors
import psycopg
from eventsourcing.persistence import InterfaceError as StoreInterfaceError
from eventsourcing.persistence import OperationalError as StoreOperationalError
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from adapters import metrics
from adapters.ingest.feed_freshness import seed_last_received
from adapters.ingest.ingestion import QUARANTINED, Incoming, Outcome
from adapters.ingest.prepare_pool import PreparePool
from adapters.ingest.use_cases import ingest_batch, ingest_prepared
from adapters.logs import error_site
from adapters.nats.batches import BatchPuller
from adapters.nats.gaps import Gap, covers, missing, record
from adapters.nats.server import connect
from adapters.nats.status import rewind_position, stored_position
from adapters.nats.stream import ensure_stream, reset_consumer, source_key, unlike_what_was_read
from adapters.services import Services
from adapters.store.event_store import Position
from adapters.store.locks import Leadership, lock_key

log = logging.getLogger(__name__)

TRANSIENT_DB_ERRORS = (psycopg.OperationalError, psycopg.InterfaceError, StoreOperationalError, StoreInterfaceError)
MAX_ATTEMPTS = 3  # processing attempts of a failing message before it is quarantined as poison
RETRY_PAUSES = (0.2, 1.0)  # between those attempts
MAX_BACKOFF = 5.0  # seconds between two restarts after an outage


class LeadershipLost(Exception):
    """The advisory lock's session ended: another ingester may be reading the stream now."""


class DeliveredElsewhere(Exception):
    """Sequences skipped in a delivery are still in the stream: another reader of the same durable consumer
    got them (an ingester whose lock ended with a PostgreSQL primary pulls until its next commit check). Not a
    loss: reading starts again from the stored position."""


class NatsDisconnected(Exception):
    """The connection to NATS dropped: the server may come back having lost the stream's end (JetStream
    syncs to disk every 2 minutes by default) and number new messages with sequences already read,
    which the consumer would skip. So reading starts again from the stored position, checked."""


@dataclass
class IngestSummary:
    counts: Counter = field(default_factory=Counter)
    position: int = 0
    stream_last: int = 0
    restarts: int = 0
    rereads: int = 0  # times the stream was found recreated or truncated, and read again from its start
    first_batch_at: float | None = None  # monotonic time the first batch arrived
    last_commit_at: float | None = None

    @property
    def processed(self) -> int:
        return sum(self.counts[k] for k in ("accepted", "duplicate", "quarantined", "skipped"))

    @property
    def elapsed(self) -> float:
        """From the first batch received to the last one committed."""
        if self.first_batch_at is None or self.last_commit_at is None:
            return 0.0
        return self.last_commit_at - self.first_batch_at

    def as_dict(self) -> dict:
        return {
            "accepted": self.counts["accepted"],
            "duplicates": self.counts["duplicate"],
            "quarantined": self.counts["quarantined"],
            "poison": self.counts["poison"],
            "skipped": self.counts["skipped"],
            "lost": self.counts["lost"],
            "position": self.position,
            "restarts": self.restarts,
            "rereads": self.rereads,
            "elapsed_s": round(self.elapsed, 3),
            "messages_per_s": round(self.processed / self.elapsed, 1) if self.elapsed else 0.0,
        }


class NatsIngester:
    def __init__(
        self,
        services: Services,
        url: str,
        *,
        batch_size: int = 500,
        drain: bool = False,
        fetch_timeout: float = 1.0,
        drain_patience: float = 300.0,
        prepare_workers: int | None = None,
    ) -> None:
        self.services = services
        self.settings = services.settings
        self.url = url
        self.batch_size = batch_size
        self.drain = drain
        self.fetch_timeout = fetch_timeout
        self.drain_patience = drain_patience  # --drain gives up after this long without progress
        self.source = source_key(self.settings)
        self.leadership = Leadership(services.store.database_url, lock_key(self.settings.schema, self.source))
        self.summary = IngestSummary()
        self.position = 0
        self.prepare_workers = prepare_workers  # None: one per core but one; 0: prepare in this process
        self.pool: PreparePool | None = None
        self.whole_stream = True  # the stream carries only subjects Tocsin reads: a skipped sequence is a lost message
        self.stream_created = _EPOCH  # which stream of that name: gaps are recorded against it
        self.disconnected = asyncio.Event()  # since the stored position was last checked against the stream
        self.nc: NATS | None = None

    @property
    def nats_connected(self) -> bool:
        return self.nc is not None and self.nc.is_connected

    async def run(self, stop: asyncio.Event | None = None) -> IngestSummary:
        """Ingest until `stop` is set (or, with drain, until the stream as it stood is ingested)."""
        stop = stop or asyncio.Event()
        if self.prepare_workers != 0:
            self.pool = PreparePool(self.services.ingestor.preparer, self.prepare_workers)
        try:
            # Ready before the first batch: the workers, or this process when it prepares itself.
            await (self.pool.ready() if self.pool else asyncio.to_thread(self.services.geography.warm_up))
            await asyncio.to_thread(seed_last_received, self.services.store)
            return await self._run(stop)
        finally:
            if self.pool is not None:
                await asyncio.to_thread(self.pool.close)

    async def _run(self, stop: asyncio.Event) -> IngestSummary:
        nc = self.nc = await connect(self.url, name=f"tocsin-ingest-{self.settings.schema}",
                                     on_disconnect=self.disconnected.set)
        js = nc.jetstream()
        backoff, last_progress = 0.2, time.monotonic()
        try:
            while not stop.is_set():
                before = self.position
                try:
                    await ensure_stream(js, self.settings)
                    if not await self._take_lead(stop):
                        break
                    try:
                        metrics.LEADER.labels("stream", self.settings.nats_stream).set(1)
                        if await self._consume(nc, js, stop):
                            break
                    finally:
                        metrics.LEADER.labels("stream", self.settings.nats_stream).set(0)
                        await asyncio.to_thread(self.leadership.release)
                except asyncio.CancelledError:
                    raise
                except Exception as error:  # an outage, or the lead lost: start again from the store
                    self.summary.restarts += 1
                    metrics.STREAM_RESTARTS.labels(self.settings.nats_stream).inc()
                    if self.position > before:
                        backoff, last_progress = 0.2, time.monotonic()
                    if self.drain and time.monotonic() - last_progress > self.drain_patience:
                        message = f"ingestion NATS bloquée depuis {self.drain_patience:.0f} s : {error}"
                        raise RuntimeError(message) from error
                    self._report(error, backoff)
                    await _sleep_unless(stop, backoff)
                    await asyncio.to_thread(self._drop_dead_connections)
                    backoff = min(MAX_BACKOFF, backoff * 2)
        finally:
            await asyncio.to_thread(self.leadership.release)
            try:
                await asyncio.wait_for(nc.close(), 5)
            except Exception:  # closing a connection to a vanished server must not hide the summary
                log.info("NATS close failed", exc_info=True)
        self.summary.position = self.position
        return self.summary

    @staticmethod
    def _report(error: Exception, backoff: float) -> None:
        known = isinstance(error, (*TRANSIENT_DB_ERRORS, LeadershipLost, DeliveredElsewhere, NatsDisconnected,
                                   nats.errors.Error, OSError))
        message = "NATS ingestion interrupted (%s): resuming in %.1f s from the stored position"
        if known:
            log.warning(message, str(error).splitlines()[0] if str(error) else type(error).__name__, backoff)
        else:
            log.exception(message, type(error).__name__, backoff)

    async def _take_lead(self, stop: asyncio.Event) -> bool:
        waiting = False
        while not stop.is_set():
            if await asyncio.to_thread(self.leadership.try_acquire):
                if waiting:
                    log.warning("NATS ingestion: took over, reading stream %s", self.settings.nats_stream)
                return True
            if not waiting:
                stream = self.settings.nats_stream
                log.warning("another ingester already reads stream %s: standing by to take over", stream)
                waiting = True
            await _sleep_unless(stop, 0.5)
        return False

    async def _consume(self, nc: NATS, js: JetStreamContext, stop: asyncio.Event) -> bool:
        """Read from the stored position on; True once drained (with drain), False when stopped."""
        self.disconnected.clear()
        stored = await asyncio.to_thread(stored_position, self.services.store, self.source)
        self.position, read_sha256 = stored or (0, None)
        info = await js.stream_info(self.settings.nats_stream)
        target = info.state.last_seq
        self.whole_stream = covers(self.settings.nats_subject, info.config.subjects or [])
        self.stream_created = info.created or _EPOCH
        self.summary.stream_last = target
        reason = await unlike_what_was_read(js, info, self.position, read_sha256)
        if reason is not None:
            # Read all it holds again: what is stored already is recognised by its distributionID, the rest
            # is new. (Its oldest messages may have expired long after they were read: no gap for them.)
            log.error(
                "stream %s recreated or truncated (%s): reading all it holds again from sequence %d,"
                " without duplicates",
                self.settings.nats_stream, reason, info.state.first_seq,
            )
            await asyncio.to_thread(self._read_again_from, info.state.first_seq)
            self.summary.rereads += 1
        elif stored is None and info.state.first_seq > 1:
            # The first reading of a stream that no longer holds its oldest messages: they were never this
            # store's to lose (a new installation, say), so they are no gap; the stream is read from its start.
            log.warning(
                "first reading of stream %s: from sequence %d, the earlier messages are no longer in it",
                self.settings.nats_stream, info.state.first_seq,
            )
            self.position = info.state.first_seq - 1
        if self.drain and self.position >= target:
            return True
        consumer = await reset_consumer(js, self.settings, self.position + 1, self.batch_size)
        puller = BatchPuller(nc, self.settings.nats_stream, consumer)
        await puller.start()
        # At most one batch waits here, and one more in the reader: all within max_ack_pending.
        ready: asyncio.Queue = asyncio.Queue(maxsize=1)
        reading = asyncio.ensure_future(self._read(puller, ready))
        try:
            while not stop.is_set():
                batch = await ready.get()
                if isinstance(batch, BaseException):
                    raise batch
                msgs, prepared = batch
                if self.disconnected.is_set():  # this batch is not acknowledged: delivered again, once checked
                    if prepared is not None:
                        prepared.cancel()
                    raise NatsDisconnected("connexion NATS perdue : reprise depuis la position enregistrée, vérifiée")
                if not msgs:
                    # Nothing delivered within the fetch timeout: nothing is pending for this consumer.
                    metrics.STREAM_LAG_MESSAGES.labels(self.settings.nats_stream).set(0)
                    metrics.STREAM_LAG_SECONDS.labels(self.settings.nats_stream).set(0)
                    if self.drain and await self._drained(js, consumer, target):
                        return True
                    continue
                await self._process(msgs, prepared)
                if self.drain and self.position >= target:
                    return True
            return False
        finally:
            reading.cancel()
            await puller.stop()

    async def _read(self, puller: BatchPuller, ready: asyncio.Queue) -> None:
        """Fetch batches and start preparing each as it arrives; an empty batch when nothing came."""
        prepared = None
        try:
            while True:
                msgs = await self._fetch(puller)
                if msgs:
                    if self.summary.first_batch_at is None:
                        self.summary.first_batch_at = time.monotonic()
                    prepared = asyncio.ensure_future(self._prepare([_incoming(m) for m in msgs]))
                await ready.put((msgs, prepared))
                prepared = None
        except asyncio.CancelledError:
            if prepared is not None:
                prepared.cancel()
            while not ready.empty():  # a batch nobody will commit: not acknowledged, delivered again
                waiting = ready.get_nowait()
                if isinstance(waiting, tuple) and waiting[1] is not None:
                    waiting[1].cancel()
            raise
        except Exception as error:  # the committing loop raises it: it restarts from the stored position
            await ready.put(error)

    async def _prepare(self, items: list[Incoming]) -> list:
        if self.pool is not None:
            return await self.pool.prepare(items)
        return await asyncio.to_thread(self.services.ingestor.preparer.many, items)

    async def _fetch(self, puller: BatchPuller) -> list[Msg]:
        try:
            return await puller.fetch(self.batch_size, timeout=self.fetch_timeout)
        except (TimeoutError, nats.errors.TimeoutError):
            return []
        except NotFoundError:
            raise  # the consumer or the stream is gone: take the lead again, which recreates them
        except nats.errors.Error as error:  # reconnecting, or JetStream recovering after a restart
            log.info("fetch failed: %r", error)
            await asyncio.sleep(0.5)
            return []

    async def _drained(self, js: JetStreamContext, consumer: str, target: int) -> bool:
        if self.position >= target:
            return True
        # Messages gone from the stream's end leave the position below the target.
        info = await js.consumer_info(self.settings.nats_stream, consumer)
        drained = info.num_pending == 0 and info.num_ack_pending == 0
        if drained:
            await asyncio.to_thread(self._lost, [(self.position + 1, target)])
        return drained

    async def _process(self, msgs: list[Msg], preparing: asyncio.Future) -> None:
        seqs = [_seq(m) for m in msgs]
        last_seq, last = max(zip(seqs, msgs, strict=True), key=lambda pair: pair[0])
        prepared = await preparing
        # Skipped here, not when fetched: the batch committed just before may have covered them.
        fresh = [(m, p) for m, p, seq in zip(msgs, prepared, seqs, strict=True) if seq > self.position]
        self.summary.counts["skipped"] += len(msgs) - len(fresh)
        gaps = missing(self.position, seqs)
        if gaps:
            await self._check_gone(gaps)
            await asyncio.to_thread(self._lost, gaps)
        if fresh:
            if not await asyncio.to_thread(self.leadership.still_held):
                raise LeadershipLost("verrou d'ingestion perdu")
            outcomes = await asyncio.to_thread(self._ingest, fresh)
            self.summary.counts.update(o.status for o in outcomes)
        self.position = max(self.position, last_seq)
        self.summary.last_commit_at = time.monotonic()
        pending, stored_at = _pending_and_time(last)
        stream = self.settings.nats_stream
        metrics.STREAM_LAG_MESSAGES.labels(stream).set(pending)
        metrics.STREAM_LAG_SECONDS.labels(stream).set(max(0.0, time.time() - stored_at) if pending else 0.0)
        try:
            await last.ack()  # cumulative (AckPolicy.ALL): the whole batch, now that it is committed
        except nats.errors.Error as error:  # harmless: it is delivered again, then skipped
            log.info("ack failed: %r", error)

    async def _check_gone(self, gaps: list[Gap]) -> None:
        """Raise DeliveredElsewhere unless the stream no longer holds the gaps' messages. Messages another
        reader took come in runs, so each gap's ends are asked (a lost message answers "not found")."""
        if self.nc is None:
            return
        js = self.nc.jetstream()
        for first, last in gaps:
            for seq in {first, last}:
                try:
                    await js.get_msg(self.settings.nats_stream, seq)
                except NotFoundError:
                    continue
                raise DeliveredElsewhere(f"séquences {first} à {last} encore dans le flux, lues par un autre lecteur")

    # --- in a worker thread: the Ingestor is synchronous -------------------------------------------

    def _drop_dead_connections(self) -> None:
        """After a database restart the pool holds dead connections: drop them all now, not one per retry."""
        try:
            self.services.store.tocsin_recorder.datastore.pool.check()
        except Exception:  # the database may still be down: the next attempt will tell
            log.info("pool check failed", exc_info=True)

    def _lost(self, gaps: list[Gap]) -> None:
        stream = self.settings.nats_stream
        if not self.whole_stream:  # the sequences skipped may be another subject's messages
            log.info("stream %s: sequences %s not delivered (other subjects of the stream?)", stream, gaps)
            return
        # Only the gaps not recorded before: those were reported then.
        for gap in record(self.services.store, self.source, self.stream_created, gaps):
            self.summary.counts["lost"] += gap[1] - gap[0] + 1
            metrics.STREAM_LOST.labels(stream).inc(gap[1] - gap[0] + 1)
            log.error(
                "stream %s: sequences %d to %d (%d messages) were gone from the stream before their ingestion"
                " (retention limits, purge or deletion): lost to Tocsin, to be asked again from the sender",
                stream, gap[0], gap[1], gap[1] - gap[0] + 1,
            )

    def _read_again_from(self, first_seq: int) -> None:
        """Move the stored position back before `first_seq`: the one write that lowers it."""
        self.position = max(0, first_seq - 1)
        rewind_position(self.services.store, self.source, self.position)

    def _ingest(self, batch: list[tuple[Msg, Any]]) -> list[Outcome]:
        """One transaction for the batch; if it fails for a reason other than an outage, isolate the culprit."""
        try:
            last, prepared = batch[-1]
            position = Position(self.source, _seq(last), prepared.sha256)
            return ingest_prepared(self.services.ingestor, [p for _, p in batch], position)
        except TRANSIENT_DB_ERRORS:
            raise
        except Exception as error:
            log.warning("batch of %d messages failed (%s): processing message by message", len(batch),
                        error_site(error))
        return [self._ingest_one(m, p.incoming) for m, p in batch]

    def _ingest_one(self, msg: Msg, item: Incoming) -> Outcome:
        position = Position(self.source, _seq(msg), hashlib.sha256(msg.data).digest())
        # Deliveries that ended without an acknowledgement count as failed attempts too.
        attempts = max(1, MAX_ATTEMPTS - (msg.metadata.num_delivered - 1))
        for attempt in range(1, attempts + 1):
            try:
                return ingest_batch(self.services.ingestor, [item], position)[0]
            except TRANSIENT_DB_ERRORS:
                raise
            except Exception as error:
                failure = error
                if attempt < attempts:
                    time.sleep(RETRY_PAUSES[min(attempt, len(RETRY_PAUSES)) - 1])
        log.error("message %s quarantined after %d failures: %s", item.source, MAX_ATTEMPTS, error_site(failure))
        reason = {
            "code": "poison",
            "path": "",
            "message": f"traitement en échec {MAX_ATTEMPTS} fois (erreur non liée à la validation) : "
                       f"{_failure_site(failure)}",
        }
        outcome = self.services.ingestor.quarantine(item, [reason], position=position)
        self.summary.counts["poison"] += 1
        assert outcome.status == QUARANTINED
        return outcome


def _failure_site(error: BaseException) -> str:
    """What a quarantine reason may say of a failure: its type, where it was raised and, for a database
    refusal, its SQLSTATE, never its text (an exception's text may quote the message's values, and reasons
    are shown to auditors and kept unencrypted)."""
    cause: BaseException | None = error
    while cause is not None and not isinstance(cause, psycopg.Error):
        cause = cause.__cause__ or cause.__context__
    state = f" ; SQLSTATE {cause.sqlstate}" if isinstance(cause, psycopg.Error) and cause.sqlstate else ""
    return error_site(error) + state


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)  # a stream whose creation time the server does not give


def _seq(msg: Msg) -> int:
    """The message's stream sequence, read from its acknowledgement subject (JetStream's ADR-15 format):
    `$JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.…` (9 tokens) or, with a domain and an account
    hash, `$JS.ACK.<domain>.<account>.<stream>.<consumer>.<delivered>.<stream seq>.…` (12 or more).
    nats-py's `msg.metadata` parses all of it into objects, a good part of the per-message cost."""
    tokens = msg.reply.split(".")
    return int(tokens[5] if len(tokens) == 9 else tokens[7])


def _pending_and_time(msg: Msg) -> tuple[int, float]:
    """Messages still pending for the consumer after this one, and when the stream stored it (Unix time),
    from the same acknowledgement subject: `….<stream seq>.<consumer seq>.<timestamp ns>.<pending>`."""
    tokens = msg.reply.split(".")
    at = 7 if len(tokens) == 9 else 9
    return int(tokens[at + 1]), int(tokens[at]) / 1e9


def _incoming(msg: Msg) -> Incoming:
    content_type = (msg.headers or {}).get("Content-Type")
    return Incoming(msg.data, content_type, source=f"nats:{msg.subject}#{_seq(msg)}", received_at=datetime.now(UTC))


async def _sleep_unless(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), seconds)
    except TimeoutError:
        pass
