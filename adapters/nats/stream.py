"""The JetStream stream NexSIS messages arrive on, Tocsin's consumer of it, and publishing to it.

The consumer is only a cursor: where ingestion stands is recorded in PostgreSQL, in the same
transaction as the events. So whenever an ingester takes the lead it recreates the consumer to start
right after the stored position. Otherwise the messages a crashed ingester had fetched but not
committed would come back only after `ack_wait`, behind newer ones, and the position would already
have passed them.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from nats.js import JetStreamContext, api
from nats.js.errors import APIError, NotFoundError

from adapters.settings import Settings

log = logging.getLogger(__name__)

ACK_WAIT_SECONDS = 120.0  # a batch must be committed within this, or JetStream sends it again
PUBLISH_WINDOW = 512  # publications awaiting their acknowledgement at once
PUBLISH_TIMEOUT = 10.0


def source_key(settings: Settings) -> str:
    """The key of the stream's position in tocsin_positions."""
    return f"nats:{settings.nats_stream}"


def consumer_name(settings: Settings) -> str:
    """One durable consumer per Tocsin store (schema), so two stores can read the same stream."""
    return "tocsin-" + re.sub(r"[^A-Za-z0-9_-]", "_", settings.schema)


def subject_for(settings: Settings, kind: str) -> str:
    """A concrete subject under the configured one: `nexsis.>` gives `nexsis.createCase`."""
    subject = settings.nats_subject
    token = re.sub(r"[^A-Za-z0-9_-]", "_", kind) or "message"
    if subject.endswith((".>", ".*")):
        return f"{subject[:-2]}.{token}"
    if subject in (">", "*"):
        return f"nexsis.{token}"
    return subject


async def ensure_stream(js: JetStreamContext, settings: Settings) -> api.StreamInfo:
    """The stream, created on disk (file storage) when missing."""
    try:
        return await js.stream_info(settings.nats_stream)
    except NotFoundError:
        log.warning("NATS: creating stream %s (subjects %s)", settings.nats_stream, settings.nats_subject)
        config = api.StreamConfig(
            name=settings.nats_stream,
            subjects=[settings.nats_subject],
            storage=api.StorageType.FILE,
            retention=api.RetentionPolicy.LIMITS,
            duplicate_window=120.0,
            num_replicas=settings.nats_replicas,  # on a cluster: survives the loss of a server
        )
        try:
            return await js.add_stream(config)
        except APIError:  # created by another process meanwhile
            return await js.stream_info(settings.nats_stream)


async def unlike_what_was_read(
    js: JetStreamContext, info: api.StreamInfo, position: int, sha256: bytes | None
) -> str | None:
    """Why the stream no longer holds what ingestion read up to `position` (whose message had this hash),
    in French; None when it still does, or when there is nothing left to compare with.

    A stream recreated under the same name, or one that lost its end in a crash (JetStream syncs to disk
    every few minutes by default), numbers new messages with sequences already read: resuming after
    the position would skip them without a word."""
    if position <= 0:
        return None
    if position > info.state.last_seq:
        return f"le flux ne va plus que jusqu'au n° {info.state.last_seq}, l'ingestion en était au n° {position}"
    if sha256 is None or info.state.first_seq > position:
        return None  # a position stored before hashes were, or a message the stream has dropped since
    try:
        held = await js.get_msg(info.config.name or "", position)  # a stream the server describes has its name
    except NotFoundError:  # deleted since: the sequences around it still tell nothing new
        return None
    if hashlib.sha256(held.data or b"").digest() != sha256:
        return f"le message n° {position} du flux n'est plus celui que l'ingestion y a lu"
    return None


async def reset_consumer(js: JetStreamContext, settings: Settings, start_seq: int, batch_size: int) -> str:
    """Recreate Tocsin's durable pull consumer so that it delivers from `start_seq` on, in order.

    Acknowledgement is cumulative (AckPolicy.ALL): batches are committed in stream order, so acking a
    batch's last message acknowledges the whole batch. `max_ack_pending` bounds what is in flight.
    Returns the consumer's name.
    """
    name = consumer_name(settings)
    try:
        await js.delete_consumer(settings.nats_stream, name)
    except NotFoundError:
        pass
    config = api.ConsumerConfig(
        name=name,
        durable_name=name,
        description="Tocsin : ingestion des messages NexSIS",
        deliver_policy=api.DeliverPolicy.BY_START_SEQUENCE,
        opt_start_seq=max(1, start_seq),
        ack_policy=api.AckPolicy.ALL,
        ack_wait=ACK_WAIT_SECONDS,
        max_ack_pending=max(1000, 4 * batch_size),
        filter_subject=settings.nats_subject,
    )
    await js.add_consumer(settings.nats_stream, config)
    return name


@dataclass(frozen=True)
class Publishable:
    raw: bytes
    content_type: str | None
    kind: str = "message"


async def publish(js: JetStreamContext, settings: Settings, messages: Iterable[Publishable]) -> int:
    """Publish in order, with a bounded window of unacknowledged publications; return how many.

    Each publication carries a Nats-Msg-Id unique to this run: a publication retried after a lost
    acknowledgement is stored once, while the same bytes published twice on purpose are kept twice
    (NexSIS may resend a message; ingestion recognises it by its distributionID).
    """
    run = uuid.uuid4().hex[:12]
    window: list[tuple[asyncio.Future, str, bytes, dict]] = []
    count = 0
    for count, message in enumerate(messages, start=1):
        subject = subject_for(settings, message.kind)
        headers = {"Nats-Msg-Id": f"{run}-{count}"}
        if message.content_type:
            headers["Content-Type"] = message.content_type
        future = await js.publish_async(subject, message.raw, headers=headers)
        window.append((future, subject, message.raw, headers))
        if len(window) >= PUBLISH_WINDOW:
            await _settle(js, window)
            window = []
    await _settle(js, window)
    return count


async def _settle(js: JetStreamContext, window: list[tuple[asyncio.Future, str, bytes, dict]]) -> None:
    """Wait for the window's acknowledgements; publish again, one by one, those that got none."""
    if not window:
        return
    await asyncio.wait([f for f, *_ in window], timeout=PUBLISH_TIMEOUT)
    for future, subject, raw, headers in window:
        if future.done() and not future.cancelled() and future.exception() is None:
            continue
        if not future.done():
            future.cancel()
        for attempt in range(1, 31):
            try:
                await js.publish(subject, raw, headers=headers, timeout=PUBLISH_TIMEOUT)
                break
            except Exception as error:  # the server may be restarting: try again, a bounded number of times
                if attempt == 30:
                    raise
                log.info("publish retry %d on %s: %r", attempt, subject, error)
                await asyncio.sleep(min(2.0, 0.1 * attempt))
