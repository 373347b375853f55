"""Shared set-up for the NATS ingestion tests: a real NATS server, one stream per test, real processes.

NATS: TOCSIN_TEST_NATS_URL, else the machine's server on 127.0.0.1:4222 when it answers, else an
embedded nats-server started for the session. Each test gets its own stream, subject and schema.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg.sql import SQL, Identifier

from adapters.nats import server as nats_server
from adapters.nats import stream as nats_stream  # imported here, not lazily: tests publish from threads
from adapters.settings import Settings
from tests.support.paths import ROOT
from tests.support.sql import database_url_of, first_row

LOCAL_NATS_URL = "nats://127.0.0.1:4222"


def _answers(url: str) -> bool:
    host, port = url.rsplit("//", 1)[-1].rsplit(":", 1)
    try:
        with socket.create_connection((host, int(port)), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def nats_server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = os.environ.get("TOCSIN_TEST_NATS_URL") or LOCAL_NATS_URL
    if _answers(url):
        yield url
        return
    from adapters.embedded import EmbeddedNats

    server = EmbeddedNats(tmp_path_factory.mktemp("embedded-nats")).start()
    yield server.url
    server.stop()


@pytest.fixture
def nats_settings(settings: Settings, nats_server_url: str) -> Iterator[Settings]:
    """The test's settings with a stream and subject of its own; the stream is deleted afterwards."""
    tag = uuid.uuid4().hex[:10]
    nats_settings = dataclasses.replace(
        settings, nats_url=nats_server_url, nats_stream=f"T_{tag}", nats_subject=f"t{tag}.>"
    )
    yield nats_settings
    delete_stream(nats_settings)


def run_async(coroutine):
    return asyncio.run(coroutine)


def nats_url_of(settings: Settings) -> str:
    """The NATS server of settings made by nats_settings (or a test), which always name one."""
    assert settings.nats_url is not None, "these settings name no NATS server"
    return settings.nats_url


def delete_stream(settings: Settings) -> None:
    from nats.js.errors import NotFoundError

    async def delete() -> None:
        nc = await asyncio.wait_for(nats_server.connect(nats_url_of(settings)), 10)
        try:
            await nc.jetstream().delete_stream(settings.nats_stream)
        except NotFoundError:
            pass
        finally:
            await nc.close()

    try:
        run_async(delete())
    except Exception:  # a private server already stopped took its streams with it
        pass


@functools.lru_cache(maxsize=8)
def simulated(size: int, seed: int = 1, scenario: str = "storm") -> tuple:
    """Simulated messages, generated once per session for each (size, seed)."""
    from adapters.simulator import simulate

    return tuple(simulate(scenario, size=size, seed=seed))


def publish(settings: Settings, items: Iterable) -> int:
    """Publish simulated messages (or (raw, content_type) pairs) to the test's stream."""
    def publishable(item) -> nats_stream.Publishable:
        if isinstance(item, tuple):
            return nats_stream.Publishable(item[0], item[1])
        return nats_stream.Publishable(item.raw, item.content_type, item.kind)

    async def run() -> int:
        nc = await asyncio.wait_for(nats_server.connect(nats_url_of(settings)), 10)
        try:
            js = nc.jetstream()
            await nats_stream.ensure_stream(js, settings)
            return await nats_stream.publish(js, settings, (publishable(i) for i in items))
        finally:
            await nc.close()

    return run_async(run())


def distinct_ids(messages: Iterable) -> set[str]:
    return {m.distribution_id for m in messages}


def stored(settings: Settings) -> dict:
    """What the store holds: counts, the distribution ids indexed, and the stream position."""
    source_key = nats_stream.source_key

    with psycopg.connect(database_url_of(settings)) as conn:
        def scalar(query: str, *params: object) -> int:
            return first_row(conn.execute(SQL(query).format(s=Identifier(settings.schema)), params))[0]

        try:
            ids = [r[0] for r in conn.execute(
                SQL("SELECT distribution_id FROM {s}.tocsin_messages").format(s=Identifier(settings.schema))
            )]
            return {
                "events": scalar("SELECT count(*) FROM {s}.tocsin_events"),
                "messages": len(ids),
                "ids": set(ids),
                "quarantined": scalar("SELECT count(*) FROM {s}.tocsin_quarantine"),
                "poison": scalar(
                    "SELECT count(*) FROM {s}.tocsin_quarantine WHERE reasons @> %s::jsonb", '[{"code": "poison"}]'
                ),
                "position": scalar(
                    "SELECT coalesce(max(position), 0) FROM {s}.tocsin_positions WHERE source = %s",
                    source_key(settings),
                ),
            }
        except psycopg.errors.UndefinedTable:
            return {"events": 0, "messages": 0, "ids": set(), "quarantined": 0, "poison": 0, "position": 0}


def assert_exactly_once(settings: Settings, published_ids: set[str], quarantined: int = 0) -> dict:
    """Every published message is in the store once: one event per distinct distributionID, plus quarantine."""
    state = stored(settings)
    assert state["ids"] == published_ids
    assert state["events"] == state["messages"] == len(published_ids)
    assert state["quarantined"] == quarantined
    return state


def environment(settings: Settings) -> dict[str, str]:
    return {
        **os.environ,
        "TOCSIN_DATABASE_URL": settings.database_url or "",
        "TOCSIN_DB_SCHEMA": settings.schema,
        "TOCSIN_NATS_URL": settings.nats_url or "",
        "TOCSIN_NATS_STREAM": settings.nats_stream,
        "TOCSIN_NATS_SUBJECT": settings.nats_subject,
        "TOCSIN_DATA_DIR": str(settings.data_dir),
        "PYTHONUNBUFFERED": "1",
    }


def tocsin_command(*args: str) -> list[str]:
    """`tocsin` commands, run as a user runs them (a process of its own)."""
    return [sys.executable, "-m", "api.cli.main", *args]


def start_ingester(settings: Settings, *args: str, log: Path | None = None) -> subprocess.Popen:
    out = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115 - closed with the process
    return subprocess.Popen(
        tocsin_command("ingest", "--nats", *args), cwd=ROOT, env=environment(settings), stdout=out, stderr=out
    )


def run_tocsin(settings: Settings, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    result = subprocess.run(
        tocsin_command(*args), cwd=ROOT, env=environment(settings), capture_output=True, text=True, timeout=timeout
    )
    assert result.returncode == 0, result.stderr
    return result


def wait_until(condition: Callable[[], bool], timeout: float, what: str, interval: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def stop(process: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
    if process.poll() is None:
        process.send_signal(sig)
    return process.wait(timeout)


def printed_json(text: str) -> dict:
    """The last JSON object a command printed (indented), among whatever it logged around it."""
    lines = text.splitlines()
    starts = [i for i, line in enumerate(lines) if line == "{"]
    for start in reversed(starts):
        end = next((j for j in range(start, len(lines)) if lines[j] == "}"), None)
        if end is not None:
            return json.loads("\n".join(lines[start : end + 1]))
    raise AssertionError(f"no JSON printed in:\n{text}")
