"""BatchPuller against a real JetStream consumer: full batches, the remainder, nothing in time, then a
message published while a fetch waits; all in stream order, none twice. And the stream sequence read
from a message's acknowledgement subject, as nats-py's full parse gives it."""

from __future__ import annotations

import asyncio
import time

from nats.aio.client import Client
from nats.aio.msg import Msg

from adapters.nats import server as nats_server
from adapters.nats.batches import BatchPuller
from adapters.nats.ingester import _seq
from adapters.nats.stream import ensure_stream, reset_consumer, subject_for
from tests.support.nats_harness import publish, run_async


def test_batches_come_whole_then_the_rest_then_none_then_what_arrives_while_waiting(nats_settings):
    publish(nats_settings, tuple((b'{"n": %d}' % i, "application/json") for i in range(1, 1201)))

    async def pull() -> tuple[list[list[int]], float, list[int]]:
        nc = await nats_server.connect(nats_settings.nats_url)
        try:
            js = nc.jetstream()
            await ensure_stream(js, nats_settings)
            consumer = await reset_consumer(js, nats_settings, 1, 500)
            puller = BatchPuller(nc, nats_settings.nats_stream, consumer)
            await puller.start()
            batches = [[_seq(m) for m in await puller.fetch(500, timeout=2.0)] for _ in range(3)]
            began = time.monotonic()
            empty = await puller.fetch(500, timeout=0.5)
            waited = time.monotonic() - began
            assert empty == []

            async def publish_later() -> None:
                await asyncio.sleep(0.2)
                await js.publish(subject_for(nats_settings, "message"), b'{"n": 1201}')

            late = asyncio.ensure_future(publish_later())
            arrived = [_seq(m) for m in await puller.fetch(500, timeout=3.0)]
            await late
            await puller.stop()
            return batches, waited, arrived
        finally:
            await nc.close()

    batches, waited, arrived = run_async(pull())
    assert [len(b) for b in batches] == [500, 500, 200]
    assert sum(batches, []) == list(range(1, 1201))
    assert 0.3 < waited < 1.5
    assert arrived == [1201]


def test_the_stream_sequence_is_read_from_the_acknowledgement_subject_as_nats_py_reads_it():
    for reply in [
        "$JS.ACK.S_1.tocsin.1.12345.12340.1732390000000000000.500",
        "$JS.ACK.hub.AHASH.S_1.tocsin.2.777.770.1732390000000000000.5.token",
        "$JS.ACK.hub.AHASH.S_1.tocsin.2.778.771.1732390000000000000.5",
    ]:
        msg = Msg(Client(), subject="x", reply=reply, data=b"")  # a client never connected: parsing needs none
        assert _seq(msg) == msg.metadata.sequence.stream
