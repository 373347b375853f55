"""The server's shutdown never waits for ever on a background task that swallows its cancellation (a client
library's retry loop can): api.routes.live.cancel_all waits a grace period, then names it in the log."""

from __future__ import annotations

import asyncio
import logging
import time

from api.routes.live import cancel_all


def test_a_task_that_swallows_its_cancellation_does_not_hold_the_shutdown(caplog):
    async def main() -> float:
        swallowed = asyncio.Event()

        async def stubborn() -> None:
            try:
                await asyncio.sleep(60)
            except asyncio.CancelledError:
                swallowed.set()  # swallowed once, as a retry loop would
            await asyncio.sleep(0.5)

        async def obedient() -> None:
            await asyncio.sleep(60)

        tasks = [asyncio.create_task(stubborn(), name="tocsin-stubborn"),
                 asyncio.create_task(obedient(), name="tocsin-obedient")]
        await asyncio.sleep(0)
        started = time.monotonic()
        await cancel_all(tasks, grace=0.2)
        took = time.monotonic() - started
        assert swallowed.is_set() and tasks[1].cancelled() and not tasks[0].done()
        await tasks[0]  # it ends by itself, later
        return took

    with caplog.at_level(logging.ERROR, logger="api.routes.live"):
        took = asyncio.run(main())
    assert took < 0.45
    assert "tocsin-stubborn did not stop" in caplog.text and "tocsin-obedient" not in caplog.text
