"""Batches from a JetStream pull consumer, taken with little Python work per message.

    puller = BatchPuller(nc, stream, consumer); await puller.start()
    msgs = await puller.fetch(500, timeout=1.0)   # [] when nothing came in time
    await puller.stop()

nats-py's PullSubscription.fetch awaits each message of a batch on its own (a task, a timer and a
uuid per message), a large share of the ingester's NATS cost. The pull requests here are the same
JetStream API requests (CONSUMER.MSG.NEXT: first `no_wait`, which answers at once with what is there,
then, if nothing was, a lingering one that waits up to the timeout), but the subscription's callback
appends each delivered message to a list, and `fetch` wakes once, when the batch is complete or the
server says the request is over (status 404 no messages, 408 expired).

Messages are kept in delivery (stream) order and never dropped: one delivered after its fetch returned
(a lingering request outlived it) is returned by the next fetch, first.
"""

from __future__ import annotations

import asyncio
import json

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js.errors import APIError, ServiceUnavailableError

# Status messages of pull requests (a header "Status", no payload): an idle heartbeat; the request is
# over (no messages left, expired, or ended by the server: consumer deleted, too many waiting requests);
# JetStream is unavailable.
_STATUS, _DESCRIPTION = "Status", "Description"
_HEARTBEAT, _REQUEST_OVER, _UNAVAILABLE = "100", ("404", "408", "409"), "503"
_EXPIRES_MARGIN = 0.1  # s: the server's own expiry answer comes before our deadline


class BatchPuller:
    def __init__(self, nc: Client, stream: str, consumer: str, api_prefix: str = "$JS.API") -> None:
        self._nc = nc
        self._next = f"{api_prefix}.CONSUMER.MSG.NEXT.{stream}.{consumer}"
        self._inbox = nc.new_inbox()
        self._sub: Subscription | None = None
        self._received: list[Msg] = []
        self._wanted = 0
        self._status: Msg | None = None  # the status that ended the current request
        self._wake = asyncio.Event()

    async def start(self) -> None:
        self._sub = await self._nc.subscribe(self._inbox, cb=self._on_message)

    async def stop(self) -> None:
        if self._sub is not None:
            await self._sub.unsubscribe()

    async def fetch(self, batch: int, timeout: float) -> list[Msg]:
        """Up to `batch` messages: those already there at once, else the first ones within `timeout`."""
        deadline = asyncio.get_running_loop().time() + timeout
        if len(self._received) < batch:
            await self._pull(batch, {"no_wait": True}, deadline)
        if not self._received:
            expires = timeout - _EXPIRES_MARGIN
            if expires > 0:
                await self._pull(batch, {"expires": int(expires * 1e9)}, deadline)
        msgs, self._received = self._received[:batch], self._received[batch:]
        return msgs

    async def _pull(self, batch: int, options: dict, deadline: float) -> None:
        self._wanted, self._status = batch, None
        self._wake.clear()
        request = {"batch": batch - len(self._received), **options}
        await self._nc.publish(self._next, json.dumps(request).encode(), reply=self._inbox)
        remaining = deadline - asyncio.get_running_loop().time()
        try:
            await asyncio.wait_for(self._wake.wait(), max(remaining, 0))
        except TimeoutError:
            return
        if self._status is None:
            return
        code = self._status.headers[_STATUS]
        if code == _UNAVAILABLE:
            raise ServiceUnavailableError
        if code not in _REQUEST_OVER:
            raise APIError(code=int(code), description=self._status.headers.get(_DESCRIPTION))

    async def _on_message(self, msg: Msg) -> None:
        headers = msg.headers
        status = headers.get(_STATUS) if headers else None
        if status is None:
            self._received.append(msg)
            if len(self._received) >= self._wanted:
                self._wake.set()
        elif status != _HEARTBEAT:
            self._status = msg
            self._wake.set()
