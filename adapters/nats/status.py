"""Where ingestion stands: events stored, quarantine, positions, and the stored position against the
NATS stream's last sequence (`tocsin status`)."""

from __future__ import annotations

import asyncio
from typing import Any

from nats.js.errors import NotFoundError
from psycopg.sql import SQL

from adapters.ingest.feed_freshness import last_received
from adapters.ingest.quarantine import count_open
from adapters.nats.gaps import recorded
from adapters.nats.server import connect
from adapters.nats.stream import consumer_name, source_key, unlike_what_was_read
from adapters.settings import Settings
from adapters.store.event_store import TocsinStore


def ingestion_status(settings: Settings, store: TocsinStore) -> dict[str, Any]:
    """Events stored, open quarantine entries, positions, the last message received and, when NATS is in
    use, the stream's status and the messages it lost before their ingestion."""
    with store.connect() as conn:
        # The events of NexSIS messages (one index row each): not the platform's own, such as the directory's.
        count = SQL("SELECT count(*) AS n FROM {}").format(store.table("tocsin_messages"))
        events = conn.execute(count).fetchone()["n"]
        positions = list(
            conn.execute(SQL("SELECT source, position, updated_at FROM {}").format(store.table("tocsin_positions")))
        )
    result: dict[str, Any] = {"events": events, "quarantined": count_open(store), "positions": positions,
                              "last_received": last_received(store)}
    uses_nats = settings.nats_url or (settings.data_dir / "nats").exists()
    if uses_nats or any(p["source"].startswith("nats:") for p in positions):
        result["nats"] = nats_status(settings, store)
        result["nats"]["lost"] = recorded(store, source_key(settings))
    return result


def rewind_position(store: TocsinStore, source: str, position: int) -> None:
    """Move a source's stored position back (the one write that lowers it), forgetting the hash read there."""
    with store.connect() as conn:
        conn.execute(
            SQL("UPDATE {} SET position = %s, last_sha256 = NULL, updated_at = now() WHERE source = %s").format(
                store.table("tocsin_positions")
            ),
            (position, source),
        )


def stored_position(store: TocsinStore, source: str) -> tuple[int, bytes | None] | None:
    """The position stored for a source and the hash of the message read there; None before the first."""
    with store.connect() as conn:
        row = conn.execute(
            SQL("SELECT position, last_sha256 FROM {} WHERE source = %s").format(store.table("tocsin_positions")),
            (source,),
        ).fetchone()
    return (int(row["position"]), row["last_sha256"] and bytes(row["last_sha256"])) if row else None


async def stream_status(settings: Settings, url: str, position: int, read_sha256: bytes | None = None,
                        timeout: float = 5.0) -> dict:
    """Stream, position and lag (messages in the stream after the stored position); and, when the stream
    no longer holds what was read (recreated, or renumbered after losing its end), why: the ingester
    will read it all again, so all of it is lag."""
    nc = await asyncio.wait_for(connect(url, name="tocsin-status", connect_timeout=timeout), timeout)
    try:
        js = nc.jetstream(timeout=timeout)
        result: dict = {"stream": settings.nats_stream, "subject": settings.nats_subject, "position": position}
        try:
            info = await js.stream_info(settings.nats_stream)
        except NotFoundError:
            return {**result, "exists": False, "last_seq": 0, "messages": 0, "lag": 0}
        unlike = await unlike_what_was_read(js, info, position, read_sha256)
        result.update(
            exists=True,
            last_seq=info.state.last_seq,
            messages=info.state.messages,
            lag=info.state.last_seq if unlike else max(0, info.state.last_seq - position),
            unlike_what_was_read=unlike,
        )
        try:
            consumer = await js.consumer_info(settings.nats_stream, consumer_name(settings))
            result["consumer"] = {
                "name": consumer.name,
                "pending": consumer.num_pending,
                "ack_pending": consumer.num_ack_pending,
                "redelivered": consumer.num_redelivered,
            }
        except NotFoundError:
            result["consumer"] = None
        return result
    finally:
        await nc.close()


def nats_status(settings: Settings, store: TocsinStore) -> dict:
    """The stream's status, or {'error': ...} when it cannot be reached."""
    from adapters.nats.server import nats_url

    position, read_sha256 = stored_position(store, source_key(settings)) or (0, None)
    try:
        with nats_url(settings) as url:
            return asyncio.run(stream_status(settings, url, position, read_sha256))
    except Exception as error:  # status must still print what the database knows
        return {"stream": settings.nats_stream, "position": position, "error": f"flux NATS injoignable : {error!r}"}
