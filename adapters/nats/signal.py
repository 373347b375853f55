"""The "views changed" signal on core NATS, for readers PostgreSQL's NOTIFY does not reach.

A projection worker NOTIFYs `tocsin_views` in the transaction that writes a batch (view_store.announce):
only sessions on the primary hear it, and a standby cannot LISTEN at all. API servers reading a standby, or
on another machine, hear the same news here: the worker publishes `{schema, views, position}` on
`tocsin.views.<schema>` once the batch is committed, and every API server's live hub subscribes. Core NATS
(not JetStream): a signal lost while a server restarts costs nothing, the hub's polling covers the gap.
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from nats.aio.client import Client

from adapters.nats.server import connect

log = logging.getLogger(__name__)


def views_subject(schema: str) -> str:
    return "tocsin.views." + re.sub(r"[^A-Za-z0-9_-]", "_", schema)


class SignalPublisher:
    """Publishes from synchronous code (the projection worker's thread) through a client on a loop of its own.

    `publish` never blocks nor raises: the signal only hastens what polling would find anyway."""

    def __init__(self, url: str, subject: str, *, name: str = "tocsin-views") -> None:
        self.url = url
        self.subject = subject
        self.name = name
        self.loop = asyncio.new_event_loop()
        self.client: Client | None = None
        self._ready = threading.Event()
        self.thread = threading.Thread(target=self._run, name="tocsin-views-signal", daemon=True)
        self.thread.start()
        self._ready.wait(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self._connect())
        self._ready.set()
        self.loop.run_forever()

    async def _connect(self) -> None:
        while self.client is None:
            try:
                self.client = await connect(self.url, name=self.name, connect_timeout=2.0)
            except Exception as error:  # noqa: BLE001 - no NATS yet: the views go on, the signal comes later
                log.warning("views signal: NATS unreachable (%r), retrying", error)
                self._ready.set()
                await asyncio.sleep(2.0)

    def publish(self, payload: dict[str, Any]) -> None:
        data = orjson.dumps(payload)

        def send() -> None:
            if self.client is not None and self.client.is_connected:
                asyncio.ensure_future(self._send(data))

        self.loop.call_soon_threadsafe(send)

    async def _send(self, data: bytes) -> None:
        try:
            assert self.client is not None
            await self.client.publish(self.subject, data)
        except Exception as error:  # noqa: BLE001
            log.info("views signal not sent: %r", error)

    def close(self) -> None:
        async def stop() -> None:
            if self.client is not None:
                try:
                    await asyncio.wait_for(self.client.close(), 5)
                except Exception:  # noqa: BLE001 - closing towards a vanished server
                    pass
            self.loop.stop()

        if self.loop.is_running():
            self.loop.call_soon_threadsafe(lambda: asyncio.ensure_future(stop()))
            self.thread.join(10)


async def follow(url: str, subject: str, on_signal: Callable[[dict[str, Any]], Awaitable[None] | None]) -> None:
    """Call `on_signal` with each signal's payload until cancelled (an async task of the API's live hub)."""
    client = await connect(url, name="tocsin-live")
    try:
        async def handler(msg: Any) -> None:
            try:
                payload = orjson.loads(msg.data)
            except orjson.JSONDecodeError:
                return
            if isinstance(payload, dict):
                result = on_signal(payload)
                if result is not None:
                    await result

        await client.subscribe(subject, cb=handler)
        await asyncio.Event().wait()  # until cancelled
    finally:
        try:
            await asyncio.wait_for(client.close(), 5)
        except Exception:  # noqa: BLE001
            pass
