"""The ingester killed with SIGKILL in the middle of a 50,000-message stream, then restarted.

The simulated crisis is published while the ingester reads it, as a live feed would be; the ingester is
killed wherever it stands (fetching, preparing or committing a batch), then a new one drains the
stream. Every message must be in the store exactly once, and the position must be the stream's end.
"""

from __future__ import annotations

import os
import signal
import threading

import pytest

from adapters.simulator import simulate
from tests.support.nats_harness import assert_exactly_once, printed_json, publish, start_ingester, stored, wait_until

SIZE = 50_000
KILL_AT = 20_000


@pytest.mark.slow
def test_sigkill_in_the_middle_of_a_50000_message_stream_then_restart(nats_settings, tmp_path):
    published_ids: set[str] = set()
    errors: list[BaseException] = []

    def feed():
        for m in simulate("storm", size=SIZE, seed=31):
            published_ids.add(m.distribution_id)
            yield m

    def publisher():
        try:
            publish(nats_settings, feed())
        except BaseException as error:  # reported by the test thread
            errors.append(error)

    thread = threading.Thread(target=publisher, name="publisher")
    thread.start()
    first = start_ingester(nats_settings, "--json", log=tmp_path / "first.log")
    try:
        wait_until(lambda: stored(nats_settings)["position"] >= KILL_AT, 240, f"{KILL_AT} messages ingested")
        os.kill(first.pid, signal.SIGKILL)
        assert first.wait(10) == -signal.SIGKILL
    finally:
        if first.poll() is None:
            first.kill()
        thread.join(300)
    assert not errors and not thread.is_alive()
    killed_at = stored(nats_settings)["position"]
    assert KILL_AT <= killed_at < SIZE

    second = start_ingester(nats_settings, "--drain", "--json", log=tmp_path / "second.log")
    assert second.wait(300) == 0, (tmp_path / "second.log").read_text()

    summary = printed_json((tmp_path / "second.log").read_text())
    assert summary["position"] == SIZE
    assert summary["skipped"] == 0  # it started right after the stored position
    state = assert_exactly_once(nats_settings, published_ids)
    assert state["position"] == SIZE
